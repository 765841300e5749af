package protosource

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/bufbuild/protocompile"
	"github.com/bufbuild/protocompile/linker"
	"github.com/bufbuild/protocompile/reporter"
	// google.api.http and google.api.field_behavior, so compiled options
	// decode into the extensions transcoding reads, as in a descriptor set.
	_ "google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/sluice-dev/sluice/registry"
	"github.com/sluice-dev/sluice/third_party/googleapis"
)

// Option configures a Source.
type Option interface{ apply(*config) }

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

type config struct {
	paths       []string // roots (directories) and files
	globs       []string
	importPaths []string
	name        string
	embedded    fs.FS
	maxErrors   int
}

// names are the roots and files as given, for messages.
func (c *config) names() []string { return append(append([]string(nil), c.paths...), c.globs...) }

// WithFiles compiles the files the patterns name, in addition to the
// paths given to New: a path, or a glob whose segments are path.Match
// patterns and where "**" stands for any number of directories
// ("api/**/*.proto"). A file is named (for imports) relative to the first
// root or import path that holds it, or else to its own directory. A
// pattern that matches no file is an error.
func WithFiles(patterns ...string) Option {
	return optionFunc(func(c *config) { c.globs = append(c.globs, patterns...) })
}

// WithImportPaths adds directories that imports resolve in (after the
// roots) but whose files are compiled only when imported, as protoc's -I.
func WithImportPaths(dirs ...string) Option {
	return optionFunc(func(c *config) { c.importPaths = append(c.importPaths, dirs...) })
}

// WithName sets how the registry names the source (in `sluice routes` and
// conflicts); the default is the paths and patterns, comma separated.
func WithName(name string) Option {
	return optionFunc(func(c *config) { c.name = name })
}

// Source compiles .proto files into contracts; it is a registry.Source.
// Every call to Files compiles what the roots hold then. It keeps nothing
// of a compilation: the registry's snapshot holds the contracts, and a
// second copy of Google's APIs' descriptors would cost 340 MB. It is safe
// for concurrent use; compilations run one at a time.
type Source struct {
	cfg config

	mu   sync.Mutex // serializes compilations; guards seen
	seen map[string]fileStat
}

var _ registry.Source = (*Source)(nil)

// New returns a source of the .proto files under the given paths: a
// directory is an import root whose every .proto file is compiled (its
// buf.yaml or buf.work.yaml shapes it), a file is compiled on its own. At
// least one path or WithFiles pattern is required. Nothing is read until
// Files.
func New(paths []string, opts ...Option) (*Source, error) {
	cfg := config{
		paths:     append([]string(nil), paths...),
		embedded:  googleapis.FS(),
		maxErrors: 100,
	}
	for _, o := range opts {
		o.apply(&cfg)
	}
	if len(cfg.paths) == 0 && len(cfg.globs) == 0 {
		return nil, errors.New("proto source: no root, file or pattern")
	}
	for _, g := range cfg.globs {
		if err := ValidGlob(g); err != nil {
			return nil, fmt.Errorf("proto source: %w", err)
		}
	}
	if cfg.name == "" {
		cfg.name = strings.Join(cfg.names(), ", ")
	}
	return &Source{cfg: cfg}, nil
}

// Name identifies the source in the registry's messages.
func (s *Source) Name() string { return s.cfg.name }

// Files compiles the sources and returns every file compiled and every
// file they import, except protobuf's own (the registry uses the
// binary's). Errors are Errors: every problem at once, each with its
// place.
func (s *Source) Files() ([]*descriptorpb.FileDescriptorProto, error) {
	return s.Compile(context.Background())
}

// Compile is Files with a context that can cancel the compilation.
func (s *Source) Compile(ctx context.Context) ([]*descriptorpb.FileDescriptorProto, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	// What Watch compares its first poll with: a change made after this
	// compilation read the files is reloaded, however late Watch starts.
	s.seen = s.state()
	l, errs := s.layout()
	if len(errs) > 0 {
		return nil, errs
	}
	r := newResolver(l, s.cfg.embedded)
	if errs := r.readFiles(); len(errs) > 0 {
		return nil, errs
	}
	return s.compile(ctx, l, r)
}

func (s *Source) compile(ctx context.Context, l *layout, r *resolver) ([]*descriptorpb.FileDescriptorProto, error) {
	var errs Errors
	var mu sync.Mutex
	rep := reporter.NewReporter(func(err reporter.ErrorWithPos) error {
		mu.Lock()
		defer mu.Unlock()
		pos := err.GetPosition()
		errs = append(errs, Error{File: r.display(pos.Filename), Line: pos.Line, Column: pos.Col, Msg: err.Unwrap().Error()})
		return nil // keep going: report every problem at once
	}, nil)
	c := protocompile.Compiler{
		Resolver:       protocompile.WithStandardImports(protocompile.ResolverFunc(r.find)),
		SourceInfoMode: protocompile.SourceInfoStandard,
		Reporter:       rep,
	}
	names := make([]string, len(l.files))
	for i, f := range l.files {
		names[i] = f.name
	}
	linked, err := c.Compile(ctx, names...)
	mu.Lock()
	defer mu.Unlock()
	var ewp reporter.ErrorWithPos
	if err != nil && errors.As(err, &ewp) {
		// An import that does not resolve ends the compilation with an
		// error of its own rather than a report.
		pos := ewp.GetPosition()
		errs = append(errs, Error{File: r.display(pos.Filename), Line: pos.Line, Column: pos.Col, Msg: ewp.Unwrap().Error()})
	}
	// And when other errors were reported first, it is not returned at
	// all: find the imports that did not resolve in the files' text.
	errs = append(errs, r.unresolved(errs)...)
	if len(errs) > 0 {
		// In reading order: the compiler's order depends on its goroutines.
		slices.SortStableFunc(errs, func(a, b Error) int {
			return cmp.Or(strings.Compare(a.File, b.File), cmp.Compare(a.Line, b.Line), cmp.Compare(a.Column, b.Column))
		})
		if len(errs) > s.cfg.maxErrors {
			n := len(errs) - s.cfg.maxErrors
			errs = append(errs[:s.cfg.maxErrors], Error{Msg: fmt.Sprintf("%d more errors not shown", n)})
		}
		return nil, errs
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("compile: %w", ctx.Err())
		}
		return nil, Errors{{Msg: err.Error()}}
	}
	return collect(linked)
}

// collect returns every file of the compilation, imports first. The
// descriptors go through their wire form once, so options are decoded
// with the binary's extension types (google.api.http) as a descriptor
// set's are.
func collect(files linker.Files) ([]*descriptorpb.FileDescriptorProto, error) {
	var set descriptorpb.FileDescriptorSet
	seen := map[string]bool{}
	var add func(fd protoreflect.FileDescriptor)
	add = func(fd protoreflect.FileDescriptor) {
		if seen[fd.Path()] {
			return
		}
		seen[fd.Path()] = true
		imports := fd.Imports()
		for i := 0; i < imports.Len(); i++ {
			add(imports.Get(i).FileDescriptor)
		}
		if isStandard(fd.Path()) {
			return
		}
		if res, ok := fd.(linker.Result); ok {
			set.File = append(set.File, res.FileDescriptorProto())
		}
	}
	for _, fd := range files {
		add(fd)
	}
	data, err := proto.Marshal(&set)
	if err != nil {
		return nil, fmt.Errorf("encode compiled files: %w", err)
	}
	return registry.ParseDescriptorSet(data)
}

// isStandard reports whether path is one of protobuf's own files linked
// into the binary; those resolve to the binary's copy, whatever the roots
// hold, as the registry does for every source.
func isStandard(path string) bool {
	if !strings.HasPrefix(path, "google/protobuf/") {
		return false
	}
	_, err := protoregistry.GlobalFiles.FindFileByPath(path)
	return err == nil
}

// readFile is os.ReadFile with the path-less message the sources' errors
// use.
func readFile(p string) ([]byte, error) {
	b, err := os.ReadFile(filepath.Clean(p))
	if err != nil {
		return nil, errors.New(statMsg(err))
	}
	return b, nil
}
