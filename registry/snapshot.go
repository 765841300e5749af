package registry

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
)

// Method is one RPC of a contract.
type Method struct {
	// Path is the gRPC method path, "/package.Service/Method".
	Path string
	// Desc describes the method, its input and output messages.
	Desc protoreflect.MethodDescriptor
	// Source names where the contract came from.
	Source string
}

// ClientStreaming reports whether the client sends a stream of messages.
func (m *Method) ClientStreaming() bool { return m.Desc.IsStreamingClient() }

// ServerStreaming reports whether the server sends a stream of messages.
func (m *Method) ServerStreaming() bool { return m.Desc.IsStreamingServer() }

// Kind names the call kind: "unary", "server_streaming",
// "client_streaming" or "bidi_streaming".
func (m *Method) Kind() string {
	switch {
	case m.ClientStreaming() && m.ServerStreaming():
		return "bidi_streaming"
	case m.ClientStreaming():
		return "client_streaming"
	case m.ServerStreaming():
		return "server_streaming"
	}
	return "unary"
}

// Snapshot is an immutable, validated view of all loaded contracts. It is
// safe for concurrent use.
type Snapshot struct {
	files   *protoregistry.Files
	types   *protoregistry.Types
	methods map[string]*Method
	paths   []string // sorted
	sources map[string]string
	// commented are descriptor-set files whose linked twins were used:
	// generated descriptors carry no comments, these do.
	commented []*descriptorpb.FileDescriptorProto
}

// Build loads every source and links them into one snapshot. Sources may
// share files (the same path with the same content, such as
// google/api/annotations.proto); the same path with other content, or the
// same symbol in two files, is an error naming both sources. Imports
// missing from all sources are looked up among the descriptors linked into
// the binary (well-known types, for example); a file whose imports are
// still missing is an error naming the file, the import and the source.
// Protobuf's own files (google/protobuf/*) always come from the binary,
// and a file that equals one linked into the binary uses the linked
// descriptor and its generated Go types.
// Every problem found is reported, joined.
func Build(sources ...Source) (*Snapshot, error) {
	type entry struct {
		fd     *descriptorpb.FileDescriptorProto
		source string
	}
	byPath := map[string]entry{}
	var order []string
	var errs []error
	// Generated code linked into the binary is registered as it is, so
	// its Go types serve as the fast path.
	linkedByPath := map[string]protoreflect.FileDescriptor{}
	for _, src := range sources {
		if ls, ok := src.(interface {
			linked() []protoreflect.FileDescriptor
		}); ok {
			for _, fd := range ls.linked() {
				if fd != nil {
					linkedByPath[fd.Path()] = fd
				}
			}
		}
	}
	for _, src := range sources {
		fds, err := src.Files()
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", src.Name(), err))
			continue
		}
		for _, fd := range fds {
			if isWellKnown(fd.GetName()) {
				continue // always the binary's own copy: see isWellKnown
			}
			prev, ok := byPath[fd.GetName()]
			if !ok {
				byPath[fd.GetName()] = entry{fd: fd, source: src.Name()}
				order = append(order, fd.GetName())
				continue
			}
			if !equalIgnoringSourceInfo(prev.fd, fd) {
				errs = append(errs, fmt.Errorf("file %q is defined differently by %s and %s", fd.GetName(), prev.source, src.Name()))
				continue
			}
			// The same contract twice: keep the copy with comments (a
			// descriptor set's, over generated code's).
			if prev.fd.GetSourceCodeInfo() == nil && fd.GetSourceCodeInfo() != nil {
				byPath[fd.GetName()] = entry{fd: fd, source: src.Name()}
			}
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}

	s := &Snapshot{
		files:   new(protoregistry.Files),
		types:   new(protoregistry.Types),
		methods: map[string]*Method{},
		sources: map[string]string{},
	}
	// Register files in dependency order, resolving what no source has
	// from the linked descriptors.
	const (
		inProgress = iota + 1
		done
		failed
	)
	state := map[string]int{}
	// load registers the file at path once its imports are registered.
	var load func(path, importer string) bool
	visit := func(path, importer string) bool {
		switch state[path] {
		case done:
			return true
		case failed:
			return false
		case inProgress:
			errs = append(errs, fmt.Errorf("%s: import cycle through %q", byPath[importer].source, path))
			return false
		}
		state[path] = inProgress
		ok := load(path, importer)
		state[path] = failed
		if ok {
			state[path] = done
		}
		return ok
	}
	load = func(path, importer string) bool {
		e, inSet := byPath[path]
		linked, err := protoregistry.GlobalFiles.FindFileByPath(path)
		// The binary's descriptor, and its generated types, serve a file
		// no source has, a linked source's own file, and a descriptor
		// set's copy of the same contract.
		useLinked := err == nil
		if useLinked && inSet {
			if e.source == "linked" {
				useLinked = linkedByPath[path] != nil
			} else if useLinked = sameContract(linked, e.fd); useLinked && e.fd.GetSourceCodeInfo() != nil {
				s.commented = append(s.commented, e.fd)
			}
		}
		if useLinked {
			imports := linked.Imports()
			for i := 0; i < imports.Len(); i++ {
				if !visit(imports.Get(i).Path(), path) {
					return false
				}
			}
			if err := s.files.RegisterFile(linked); err != nil {
				errs = append(errs, fmt.Errorf("linked file %q: %w", path, err))
				return false
			}
			s.sources[path] = "linked"
			if inSet {
				s.sources[path] = e.source
			}
			return true
		}
		if !inSet {
			errs = append(errs, fmt.Errorf("%s: file %q imports %q, which is in no descriptor set (build it with imports: `buf build -o`, or protoc --include_imports)", byPath[importer].source, importer, path))
			return false
		}
		okDeps := true
		for _, dep := range e.fd.GetDependency() {
			if !visit(dep, path) {
				okDeps = false
			}
		}
		if !okDeps {
			return false
		}
		fd, err := protodesc.NewFile(e.fd, s.files)
		if err == nil {
			err = s.files.RegisterFile(fd)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: file %q: %w", e.source, path, err))
			return false
		}
		s.sources[path] = e.source
		return true
	}
	for _, path := range order {
		visit(path, path)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}

	var typeErrs []error
	s.files.RangeFiles(func(fd protoreflect.FileDescriptor) bool {
		if err := s.indexFile(fd); err != nil {
			typeErrs = append(typeErrs, err)
		}
		return true
	})
	if len(typeErrs) > 0 {
		return nil, errors.Join(typeErrs...)
	}
	for p := range s.methods {
		s.paths = append(s.paths, p)
	}
	sort.Strings(s.paths)
	return s, nil
}

func (s *Snapshot) indexFile(fd protoreflect.FileDescriptor) error {
	source := s.sources[fd.Path()]
	services := fd.Services()
	for i := 0; i < services.Len(); i++ {
		sd := services.Get(i)
		methods := sd.Methods()
		for j := 0; j < methods.Len(); j++ {
			md := methods.Get(j)
			path := "/" + string(sd.FullName()) + "/" + string(md.Name())
			s.methods[path] = &Method{Path: path, Desc: md, Source: source}
		}
	}
	return registerTypes(s.types, fd.Messages(), fd.Enums(), fd.Extensions())
}

// registerTypes makes every message, enum and extension resolvable by
// name, for JSON mapping and Any. Linked generated types are preferred, so
// transcoding takes the fast path when they exist; dynamicpb otherwise.
func registerTypes(t *protoregistry.Types, msgs protoreflect.MessageDescriptors, enums protoreflect.EnumDescriptors, exts protoreflect.ExtensionDescriptors) error {
	for i := 0; i < enums.Len(); i++ {
		ed := enums.Get(i)
		var et protoreflect.EnumType
		if linked, err := protoregistry.GlobalTypes.FindEnumByName(ed.FullName()); err == nil && linked.Descriptor() == ed {
			et = linked
		} else {
			et = dynamicpb.NewEnumType(ed)
		}
		if err := t.RegisterEnum(et); err != nil {
			return err
		}
	}
	for i := 0; i < msgs.Len(); i++ {
		md := msgs.Get(i)
		if !md.IsMapEntry() {
			var mt protoreflect.MessageType
			if linked, err := protoregistry.GlobalTypes.FindMessageByName(md.FullName()); err == nil && linked.Descriptor() == md {
				mt = linked
			} else {
				mt = dynamicpb.NewMessageType(md)
			}
			if err := t.RegisterMessage(mt); err != nil {
				return err
			}
		}
		if err := registerTypes(t, md.Messages(), md.Enums(), md.Extensions()); err != nil {
			return err
		}
	}
	for i := 0; i < exts.Len(); i++ {
		xd := exts.Get(i)
		var xt protoreflect.ExtensionType
		if linked, err := protoregistry.GlobalTypes.FindExtensionByName(xd.FullName()); err == nil && linked.TypeDescriptor().Descriptor() == xd {
			xt = linked
		} else {
			xt = dynamicpb.NewExtensionType(xd)
		}
		if err := t.RegisterExtension(xt); err != nil {
			return err
		}
	}
	return nil
}

// Method returns the method at path ("/package.Service/Method").
func (s *Snapshot) Method(path string) (*Method, bool) {
	m, ok := s.methods[path]
	return m, ok
}

// Methods returns every method, sorted by path.
func (s *Snapshot) Methods() []*Method {
	out := make([]*Method, len(s.paths))
	for i, p := range s.paths {
		out[i] = s.methods[p]
	}
	return out
}

// Services returns the full names of every service, sorted.
func (s *Snapshot) Services() []string {
	seen := map[string]bool{}
	var out []string
	for _, p := range s.paths {
		svc := strings.TrimPrefix(p[:strings.LastIndexByte(p, '/')], "/")
		if !seen[svc] {
			seen[svc] = true
			out = append(out, svc)
		}
	}
	return out
}

// Files resolves descriptors by path or symbol name.
func (s *Snapshot) Files() *protoregistry.Files { return s.files }

// Types resolves message, enum and extension types, for JSON mapping and
// google.protobuf.Any.
func (s *Snapshot) Types() *protoregistry.Types { return s.types }

// CommentedFiles returns the descriptor-set files, with their comments,
// of contracts the snapshot serves from the binary's own generated
// descriptors (which carry no comments), for documentation generators.
func (s *Snapshot) CommentedFiles() []*descriptorpb.FileDescriptorProto {
	return append([]*descriptorpb.FileDescriptorProto(nil), s.commented...)
}

// Source names where the file at path came from.
func (s *Snapshot) Source(path string) string { return s.sources[path] }

// sameContract reports whether fd describes the same contract as linked,
// ignoring source information (comments, positions), which generated code
// does not carry.
func sameContract(linked protoreflect.FileDescriptor, fd *descriptorpb.FileDescriptorProto) bool {
	return equalIgnoringSourceInfo(protodesc.ToFileDescriptorProto(linked), fd)
}

func equalIgnoringSourceInfo(a, b *descriptorpb.FileDescriptorProto) bool {
	if a.GetSourceCodeInfo() == nil && b.GetSourceCodeInfo() == nil {
		return proto.Equal(a, b)
	}
	a = proto.Clone(a).(*descriptorpb.FileDescriptorProto)
	b = proto.Clone(b).(*descriptorpb.FileDescriptorProto)
	a.SourceCodeInfo, b.SourceCodeInfo = nil, nil
	return proto.Equal(a, b)
}

// isWellKnown reports whether path is one of protobuf's own files
// (google/protobuf/*.proto) linked into the binary. Descriptor sets carry
// whichever version their compiler shipped; the protobuf runtime has
// exactly one, so that one is used and the sets' copies are ignored.
func isWellKnown(path string) bool {
	if !strings.HasPrefix(path, "google/protobuf/") {
		return false
	}
	_, err := protoregistry.GlobalFiles.FindFileByPath(path)
	return err == nil
}
