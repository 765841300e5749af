package config

import "time"

// Contracts configures how contracts are kept current while sluice runs.
type Contracts struct {
	RefreshInterval Duration `yaml:"refresh_interval" doc:"How often descriptor set files are checked for changes and upstreams with {reflection: true} are asked for their contracts again; 0 turns polling off (SIGHUP still reloads). A reload that fails, or whose REST routes collide, is refused and the contracts in use stay."`
}

func defaultContracts() Contracts {
	return Contracts{RefreshInterval: Duration(30 * time.Second)}
}

func (c *Contracts) validate(errs *Errors, path string) {
	if c.RefreshInterval < 0 {
		errs.add(path+".refresh_interval", "must not be negative")
	} else if c.RefreshInterval > 0 && time.Duration(c.RefreshInterval) < time.Second {
		errs.add(path+".refresh_interval", "must be 0 (off) or at least 1s")
	}
}
