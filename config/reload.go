package config

import (
	"fmt"
	"reflect"
	"slices"
)

// RestartOnly names the settings that differ between old and updated and
// that a running sluice cannot change (a reload that changes any of them is
// refused): the listeners and their TLS, the server's connection limits
// and keepalives, metrics and tracing, the contract sources and the REST
// route shapes (rest.strict_routes, upstreams[].rest_path_prefix), and the
// log format. Everything else (policies, rate limits, limits, upstreams,
// REST options, CORS, the log level) is swapped by a reload. Both must
// have passed Validate. The names are sorted.
func RestartOnly(old, updated *Config) []string {
	var changed []string
	check := func(name string, a, b any) {
		if !reflect.DeepEqual(a, b) {
			changed = append(changed, name)
		}
	}
	check("listen", old.Listen, updated.Listen)
	check("admin", old.AdminAddr(), updated.AdminAddr())
	check("admin_pprof", old.AdminPprof, updated.AdminPprof)
	check("tls", old.TLS, updated.TLS)
	check("server", old.Server, updated.Server)
	check("metrics", old.Metrics, updated.Metrics)
	check("tracing", old.Tracing, updated.Tracing)
	check("descriptor_sets", old.DescriptorSets, updated.DescriptorSets)
	check("contracts", old.Contracts, updated.Contracts)
	check("rest.strict_routes", old.REST.StrictRoutes, updated.REST.StrictRoutes)
	check("log.format", old.Log.Format, updated.Log.Format)
	check("watch", old.Watch, updated.Watch)
	// Per upstream, by name: what feeds the contracts (reflection) and
	// the REST routes (path prefixes).
	oldUps := map[string]Upstream{}
	for _, u := range old.Upstreams {
		oldUps[u.EffectiveName()] = u
	}
	newUps := map[string]Upstream{}
	for _, u := range updated.Upstreams {
		newUps[u.EffectiveName()] = u
	}
	for name, u := range newUps {
		o, ok := oldUps[name]
		if u.Reflection && (!ok || !o.Reflection || o.Target != u.Target || o.TLS != u.TLS) {
			changed = append(changed, fmt.Sprintf("upstreams[%s].reflection", name))
		}
		if u.RESTPathPrefix != o.RESTPathPrefix {
			changed = append(changed, fmt.Sprintf("upstreams[%s].rest_path_prefix", name))
		}
	}
	for name, o := range oldUps {
		if _, ok := newUps[name]; ok {
			continue
		}
		if o.Reflection {
			changed = append(changed, fmt.Sprintf("upstreams[%s].reflection", name))
		}
		if o.RESTPathPrefix != "" {
			changed = append(changed, fmt.Sprintf("upstreams[%s].rest_path_prefix", name))
		}
	}
	slices.Sort(changed)
	return slices.Compact(changed)
}
