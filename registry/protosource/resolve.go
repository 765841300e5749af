package protosource

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"sync"

	"github.com/bufbuild/protocompile"
	"google.golang.org/protobuf/reflect/protoregistry"
)

// resolver finds files by import name: the files to compile, then the
// import directories in order, then the embedded googleapis files. It
// remembers what it read, so errors can name files as they are on disk.
// The compiler calls it from several goroutines.
type resolver struct {
	l        *layout
	embedded fs.FS
	byName   map[string]string // files to compile: import name -> disk path

	mu      sync.Mutex
	found   map[string]location
	missing []string // names asked for and not found
}

// location is where an import name was found and what it held.
type location struct {
	path     string // on disk, or "embedded:" + name
	embedded bool
	data     []byte
}

func newResolver(l *layout, embedded fs.FS) *resolver {
	r := &resolver{l: l, embedded: embedded, byName: map[string]string{}, found: map[string]location{}}
	for _, f := range l.files {
		r.byName[f.name] = f.path
	}
	return r
}

// display is how errors name the file with the given import name.
func (r *resolver) display(name string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if loc, ok := r.found[name]; ok && !loc.embedded {
		return loc.path
	}
	if p, ok := r.byName[name]; ok {
		return p
	}
	return name
}

// locate finds name without the cache: where it is and what it holds.
func (r *resolver) locate(name string) (location, error) {
	if p, ok := r.byName[name]; ok {
		data, err := readFile(p)
		if err != nil {
			return location{}, fmt.Errorf("%s: %w", p, err)
		}
		return location{path: p, data: data}, nil
	}
	if !fs.ValidPath(name) {
		return location{}, fmt.Errorf("%q is not a valid import path", name)
	}
	if isStandard(name) {
		return location{}, protoregistry.NotFound // the binary's, see isStandard
	}
	for _, d := range r.l.dirs {
		p := filepath.Join(d, filepath.FromSlash(name))
		data, err := os.ReadFile(p)
		if err == nil {
			return location{path: p, data: data}, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return location{}, fmt.Errorf("%s: %s", p, statMsg(err))
		}
	}
	if r.embedded != nil {
		if data, err := fs.ReadFile(r.embedded, path.Clean(name)); err == nil {
			return location{path: "embedded:" + name, embedded: true, data: data}, nil
		}
	}
	return location{}, errors.New(notFound)
}

// notFound is why an import did not resolve.
const notFound = "in no root or import path, and not a file sluice embeds"

func (r *resolver) find(name string) (protocompile.SearchResult, error) {
	r.mu.Lock()
	loc, ok := r.found[name]
	r.mu.Unlock()
	if !ok {
		var err error
		if loc, err = r.locate(name); err != nil {
			if !isStandard(name) {
				r.mu.Lock()
				r.missing = append(r.missing, name)
				r.mu.Unlock()
			}
			return protocompile.SearchResult{}, err
		}
		r.mu.Lock()
		r.found[name] = loc
		r.mu.Unlock()
	}
	return protocompile.SearchResult{Source: bytes.NewReader(loc.data)}, nil
}

// unresolved locates the import statements of the names that were not
// found, in the files read, leaving out those already in reported.
func (r *resolver) unresolved(reported Errors) Errors {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out Errors
	seen := map[Error]bool{}
	for _, e := range reported {
		seen[Error{File: e.File, Line: e.Line, Column: e.Column}] = true
	}
	for _, name := range r.missing {
		quoted := []byte(strconv.Quote(name))
		for _, loc := range r.found {
			if loc.embedded {
				continue
			}
			for i, line := range bytes.Split(loc.data, []byte("\n")) {
				col := bytes.Index(line, quoted)
				if col < 0 || !bytes.Contains(line[:col], []byte("import")) {
					continue
				}
				e := Error{File: loc.path, Line: i + 1, Column: col + 1}
				if seen[e] {
					continue
				}
				seen[e] = true
				e.Msg = fmt.Sprintf("could not resolve path %q: %s", name, notFound)
				out = append(out, e)
			}
		}
	}
	return out
}

// readFiles reads the files to compile, once for the compilation, and
// reports those that cannot be read or are empty. protoc accepts an empty
// file, but one is most likely being written (truncated, not yet filled),
// and compiling it would take its services away until the next reload:
// refusing it keeps the contracts in use.
func (r *resolver) readFiles() Errors {
	var out Errors
	for _, f := range r.l.files {
		loc, err := r.locate(f.name)
		if err != nil {
			out = append(out, Error{File: f.path, Msg: statMsg(errors.Unwrap(err))})
			continue
		}
		if len(loc.data) == 0 {
			out = append(out, Error{File: f.path, Msg: "empty file (being written?): an empty .proto defines nothing"})
			continue
		}
		r.mu.Lock()
		r.found[f.name] = loc
		r.mu.Unlock()
	}
	return out
}
