package protosource

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// layout is what the roots, files and import paths name at one moment:
// the directories imports resolve in, in order, and the files to compile.
// It is worked out again for every compilation, so a new file in a root
// is compiled without a restart.
type layout struct {
	dirs  []string  // import directories on disk, in resolution order
	files []fileRef // to compile, sorted by name
}

// fileRef is a file to compile: its import name and its path on disk.
type fileRef struct{ name, path string }

// module is one import root and what its buf.yaml leaves out.
type module struct {
	dir      string
	excludes []string // cleaned disk paths
}

// layout classifies the paths (a directory is a root, anything else a
// file), reads buf.yaml files, expands globs and names every file to
// compile. Every problem is reported.
func (s *Source) layout() (*layout, Errors) {
	var errs Errors
	var modules []module
	var loose []string
	for _, p := range s.cfg.paths {
		fi, err := os.Stat(p)
		switch {
		case err != nil:
			errs = append(errs, Error{File: p, Msg: statMsg(err)})
		case fi.IsDir():
			mods, err := bufModules(p)
			if err != nil {
				errs = append(errs, *err)
				continue
			}
			modules = append(modules, mods...)
		default:
			loose = append(loose, p)
		}
	}
	for _, g := range s.cfg.globs {
		matches, err := expandGlob(g)
		if err != nil {
			errs = append(errs, Error{File: g, Msg: err.Error()})
			continue
		}
		loose = append(loose, matches...)
	}
	l := &layout{}
	for _, m := range modules {
		l.dirs = append(l.dirs, m.dir)
	}
	for _, d := range s.cfg.importPaths {
		l.dirs = append(l.dirs, filepath.Clean(d))
	}
	byName := map[string]string{}
	add := func(name, p string) {
		if prev, ok := byName[name]; ok {
			if prev != p {
				errs = append(errs, Error{File: p, Msg: fmt.Sprintf("%q is also %s: an import path must name one file", name, prev)})
			}
			return
		}
		byName[name] = p
		l.files = append(l.files, fileRef{name: name, path: p})
	}
	for _, m := range modules {
		err := filepath.WalkDir(m.dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if hidden(p, m.dir, d) {
				return filepath.SkipDir
			}
			if slices.ContainsFunc(m.excludes, func(ex string) bool { return p == ex || strings.HasPrefix(p, ex+string(filepath.Separator)) }) {
				if d.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
			if !d.IsDir() && strings.HasSuffix(p, ".proto") {
				rel, _ := filepath.Rel(m.dir, p)
				add(filepath.ToSlash(rel), p)
			}
			return nil
		})
		if err != nil {
			errs = append(errs, Error{File: m.dir, Msg: statMsg(err)})
		}
	}
	// A file named on its own is named relative to the first import
	// directory that holds it, or else relative to its own directory.
	for _, p := range loose {
		p = filepath.Clean(p)
		name := ""
		for _, d := range l.dirs {
			if rel, ok := within(d, p); ok {
				name = rel
				break
			}
		}
		if name == "" {
			dir := filepath.Dir(p)
			if !slices.Contains(l.dirs, dir) {
				l.dirs = append(l.dirs, dir)
			}
			name = filepath.Base(p)
		}
		add(name, p)
	}
	if len(errs) == 0 && len(l.files) == 0 {
		errs = append(errs, Error{File: strings.Join(s.cfg.names(), ", "), Msg: "no .proto file to compile"})
	}
	sort.Slice(l.files, func(i, j int) bool { return l.files[i].name < l.files[j].name })
	return l, errs
}

// within reports whether p lies under dir, and its slash-separated path
// relative to dir.
func within(dir, p string) (string, bool) {
	rel, err := filepath.Rel(dir, p)
	if err != nil || rel == "." || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) || filepath.IsAbs(rel) {
		return "", false
	}
	return filepath.ToSlash(rel), true
}

func statMsg(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// bufConfig is the part of a buf.yaml (v1beta1, v1, v2) that shapes a
// module layout; everything else (lint, breaking, deps) is not ours.
type bufConfig struct {
	Version string `yaml:"version"`
	Modules []struct {
		Path     string   `yaml:"path"`
		Excludes []string `yaml:"excludes"`
	} `yaml:"modules"`
	Build struct {
		Roots    []string `yaml:"roots"`
		Excludes []string `yaml:"excludes"`
	} `yaml:"build"`
	// Directories is buf.work.yaml's list of modules.
	Directories []string `yaml:"directories"`
}

// bufModules returns the import roots of the directory root: the modules
// its buf.work.yaml or buf.yaml declares, or root itself. Paths in both
// files are relative to the directory holding them.
func bufModules(root string) ([]module, *Error) {
	root = filepath.Clean(root)
	if work, err := readBufConfig(filepath.Join(root, "buf.work.yaml")); err != nil {
		return nil, err
	} else if work != nil && len(work.Directories) > 0 {
		var out []module
		for _, d := range work.Directories {
			mods, err := bufModules(filepath.Join(root, filepath.FromSlash(d)))
			if err != nil {
				return nil, err
			}
			out = append(out, mods...)
		}
		return out, nil
	}
	cfg, err := readBufConfig(filepath.Join(root, "buf.yaml"))
	if err != nil {
		return nil, err
	}
	if cfg == nil {
		return []module{{dir: root}}, nil
	}
	join := func(ps []string) []string {
		var out []string
		for _, p := range ps {
			out = append(out, filepath.Join(root, filepath.FromSlash(p)))
		}
		return out
	}
	switch {
	case cfg.Version == "v2":
		if len(cfg.Modules) == 0 {
			return []module{{dir: root}}, nil
		}
		var out []module
		for _, m := range cfg.Modules {
			out = append(out, module{dir: filepath.Join(root, filepath.FromSlash(m.Path)), excludes: join(m.Excludes)})
		}
		return out, nil
	case len(cfg.Build.Roots) > 0: // v1beta1
		var out []module
		for _, r := range join(cfg.Build.Roots) {
			out = append(out, module{dir: r, excludes: join(cfg.Build.Excludes)})
		}
		return out, nil
	}
	return []module{{dir: root, excludes: join(cfg.Build.Excludes)}}, nil
}

// readBufConfig reads a buf configuration file, or nil when there is none.
func readBufConfig(p string) (*bufConfig, *Error) {
	data, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, &Error{File: p, Msg: statMsg(err)}
	}
	var cfg bufConfig
	if err := yaml.Unmarshal(data, &cfg); err != nil {
		return nil, &Error{File: p, Msg: err.Error()}
	}
	return &cfg, nil
}

// hasMeta reports whether a glob pattern has a wildcard.
func hasMeta(p string) bool { return strings.ContainsAny(p, `*?[\`) }

// ValidGlob reports whether pattern is a well-formed file pattern: a path
// whose segments are path.Match patterns, "**" standing for any number of
// directories.
func ValidGlob(pattern string) error {
	for _, seg := range strings.Split(filepath.ToSlash(pattern), "/") {
		if seg == "**" {
			continue
		}
		if _, err := path.Match(seg, ""); err != nil {
			return fmt.Errorf("bad pattern %q: %w", pattern, err)
		}
	}
	return nil
}

// expandGlob returns the .proto files a pattern names, sorted: the file
// itself for a pattern without wildcards.
func expandGlob(pattern string) ([]string, error) {
	if err := ValidGlob(pattern); err != nil {
		return nil, err
	}
	if !hasMeta(pattern) {
		if _, err := os.Stat(pattern); err != nil {
			return nil, errors.New(statMsg(err))
		}
		return []string{pattern}, nil
	}
	base, rest := globBase(pattern)
	var out []string
	err := filepath.WalkDir(base, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if hidden(p, base, d) {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(p, ".proto") {
			return nil
		}
		rel, ok := within(base, p)
		if ok && matchSegments(rest, strings.Split(rel, "/")) {
			out = append(out, p)
		}
		return nil
	})
	if err != nil {
		return nil, errors.New(statMsg(err))
	}
	if len(out) == 0 {
		return nil, errors.New("matches no .proto file")
	}
	return out, nil
}

// matchSegments matches path segments against pattern segments, "**"
// matching any number of them.
func matchSegments(pat, name []string) bool {
	for len(pat) > 0 {
		if pat[0] == "**" {
			for k := 0; k <= len(name); k++ {
				if matchSegments(pat[1:], name[k:]) {
					return true
				}
			}
			return false
		}
		if len(name) == 0 {
			return false
		}
		if ok, _ := path.Match(pat[0], name[0]); !ok {
			return false
		}
		pat, name = pat[1:], name[1:]
	}
	return len(name) == 0
}

// globBase splits a pattern into the directory before its first wildcard
// and the segments from there on.
func globBase(pattern string) (string, []string) {
	segs := strings.Split(filepath.ToSlash(pattern), "/")
	i := slices.IndexFunc(segs, hasMeta)
	if i < 0 {
		i = len(segs)
	}
	base := filepath.FromSlash(strings.Join(segs[:i], "/"))
	switch {
	case base == "" && strings.HasPrefix(pattern, "/"):
		base = "/"
	case base == "":
		base = "."
	}
	return base, segs[i:]
}

// hidden reports whether p is a hidden directory below root (".git", or
// the "..2026_12_06_..." directory a Kubernetes ConfigMap volume keeps its
// files in, behind symbolic links): not walked, or a ConfigMap's files
// would be found twice under two names.
func hidden(p, root string, d fs.DirEntry) bool {
	return d.IsDir() && p != root && strings.HasPrefix(d.Name(), ".")
}
