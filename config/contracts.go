package config

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Contracts configures contracts compiled from .proto files and how
// contracts are kept current while sluice runs.
type Contracts struct {
	RefreshInterval Duration     `yaml:"refresh_interval" doc:"How often descriptor set files are checked for changes and upstreams with {reflection: true} are asked for their contracts again; 0 turns polling off (SIGHUP still reloads). A reload that fails, or whose REST routes collide, is refused and the contracts in use stay."`
	Proto           ProtoSources `yaml:"proto" doc:"Contracts compiled from {.proto} files when sluice starts and whenever they change, with no {buf build} step: {--proto DIR_OR_FILE} sets {roots}. Every compile error is reported at once as {file:line:column: message}; a broken edit is refused and the contracts in use stay. {google/api/annotations.proto}, {http.proto}, {httpbody.proto}, {field_behavior.proto}, {google/rpc/*} and protobuf's well-known types resolve without being vendored (a copy of your own in a root or import path is used instead)."`
}

// ProtoSources names .proto files to compile into contracts.
type ProtoSources struct {
	Roots         []string `yaml:"roots" kind:"path" doc:"Directories whose every {.proto} file is compiled, each an import root (files import each other by their path below it), or single {.proto} files. A {buf.yaml} (v1 or v2) or {buf.work.yaml} in a directory is honoured: its modules are the import roots and its {excludes} are left out. Its {deps} are not fetched: put their files in an import path (the googleapis files above are built in)."`
	Files         []string `yaml:"files" doc:"Files to compile, in addition to the roots': paths or globs relative to the working directory, where {**} stands for any number of directories ({api/**/*.proto}). A file is named (for imports) relative to the first root or import path that holds it, else to its own directory. A pattern that matches no file is an error."`
	ImportPaths   []string `yaml:"import_paths" kind:"path" doc:"Directories imports are looked up in after the roots, as protoc's {-I}; their files are compiled only when imported."`
	WatchInterval Duration `yaml:"watch_interval" doc:"How often the roots, files and import paths are checked for changes (new files too); a change is compiled once the files have been quiet for one interval, so a burst of saves makes one reload. 0 turns watching off (SIGHUP still reloads)."`
}

// Enabled reports whether any .proto file is named.
func (p *ProtoSources) Enabled() bool { return len(p.Roots) > 0 || len(p.Files) > 0 }

func defaultContracts() Contracts {
	return Contracts{
		RefreshInterval: Duration(30 * time.Second),
		Proto:           ProtoSources{WatchInterval: Duration(250 * time.Millisecond)},
	}
}

func (c *Contracts) validate(errs *Errors, path string) {
	if c.RefreshInterval < 0 {
		errs.add(path+".refresh_interval", "must not be negative")
	} else if c.RefreshInterval > 0 && time.Duration(c.RefreshInterval) < time.Second {
		errs.add(path+".refresh_interval", "must be 0 (off) or at least 1s")
	}
	c.Proto.validate(errs, path+".proto")
}

func (p *ProtoSources) validate(errs *Errors, at string) {
	for i, r := range p.Roots {
		checkPath(errs, at+".roots["+strconv.Itoa(i)+"]", r, false)
	}
	for i, f := range p.Files {
		fp := at + ".files[" + strconv.Itoa(i) + "]"
		if f == "" {
			errs.add(fp, "must not be empty")
			continue
		}
		if err := validGlob(f); err != nil {
			errs.add(fp, err.Error())
		}
	}
	for i, d := range p.ImportPaths {
		checkPath(errs, at+".import_paths["+strconv.Itoa(i)+"]", d, true)
	}
	if p.WatchInterval < 0 {
		errs.add(at+".watch_interval", "must not be negative")
	} else if p.WatchInterval > 0 && time.Duration(p.WatchInterval) < 10*time.Millisecond {
		errs.add(at+".watch_interval", "must be 0 (off) or at least 10ms")
	}
}

// checkPath reports a path that does not exist (or, with dirOnly, is not
// a directory).
func checkPath(errs *Errors, at, name string, dirOnly bool) {
	if name == "" {
		errs.add(at, "must not be empty")
		return
	}
	st, err := os.Stat(name)
	if err != nil {
		errs.add(at, fmt.Sprintf("cannot read %q: %v", name, unwrapPathError(err)))
		return
	}
	if dirOnly && !st.IsDir() {
		errs.add(at, fmt.Sprintf("%q is not a directory", name))
	}
}

// validGlob checks a file pattern: segments are path.Match patterns, "**"
// any number of directories.
func validGlob(pattern string) error {
	for _, seg := range strings.Split(filepath.ToSlash(pattern), "/") {
		if seg == "**" {
			continue
		}
		if _, err := path.Match(seg, ""); err != nil {
			return fmt.Errorf("bad pattern %q: %v", pattern, err)
		}
	}
	return nil
}
