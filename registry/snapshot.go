package registry

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"runtime"
	"sort"
	"strings"

	"google.golang.org/genproto/googleapis/api/annotations"
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
	// HTTPRule is the method's google.api.http option, or nil; it must not
	// be modified. It is read when the snapshot is built so that serving
	// REST does not need the method's options, which protobuf-go decodes
	// whole and keeps once asked for (for Google's APIs, 20 MiB of
	// signatures, routing and long-running operation annotations next to
	// the 4 MiB of rules).
	HTTPRule *annotations.HttpRule
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
	// comments are the comments of the files that had them: descriptors
	// are registered without source information (see fileComments), and
	// linked twins of descriptor-set files never had any.
	comments    []fileComments
	fingerprint [sha256.Size]byte
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
	// Files are checked first, in dependency order, each against the
	// descriptors of its imports in checked; plan records what the
	// snapshot then registers, in the same order (see checkFile).
	checked := new(protoregistry.Files)
	type planned struct {
		path   string
		linked protoreflect.FileDescriptor // or:
		raw    []byte                      // the file without source information
	}
	var plan []planned
	// rules are the google.api.http rules of the methods of plan's
	// serialized files, by method path.
	rules := map[string]*annotations.HttpRule{}
	// digests identify each registered file, its source and its comments,
	// for the snapshot's fingerprint.
	digests := map[string][sha256.Size]byte{}
	var packer commentPacker
	// keepComments packs the comments of fd, the file at path.
	keepComments := func(path string, fd *descriptorpb.FileDescriptorProto) []byte {
		c, plain, ok, err := packer.pack(path, fd.GetSourceCodeInfo())
		if err != nil {
			errs = append(errs, err)
			return nil
		}
		if ok {
			s.comments = append(s.comments, c)
		}
		return plain
	}
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
			} else {
				useLinked = sameContract(linked, e.fd)
			}
		}
		if useLinked {
			imports := linked.Imports()
			for i := 0; i < imports.Len(); i++ {
				if !visit(imports.Get(i).Path(), path) {
					return false
				}
			}
			if err := checked.RegisterFile(linked); err != nil {
				errs = append(errs, fmt.Errorf("linked file %q: %w", path, err))
				return false
			}
			plan = append(plan, planned{linked: linked})
			s.sources[path] = "linked"
			var comments []byte
			if inSet {
				s.sources[path] = e.source
				comments = keepComments(path, e.fd)
				byPath[path] = entry{source: e.source} // as below
			}
			raw, err := proto.MarshalOptions{Deterministic: true}.Marshal(protodesc.ToFileDescriptorProto(linked))
			if err != nil {
				errs = append(errs, fmt.Errorf("linked file %q: %w", path, err))
				return false
			}
			digests[path] = fileDigest(path, s.sources[path], raw, comments)
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
		raw, err := checkFile(withoutSourceInfo(e.fd), checked)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: file %q: %w", e.source, path, err))
			return false
		}
		plan = append(plan, planned{path: path, raw: raw})
		for _, sd := range e.fd.GetService() {
			svc := sd.GetName()
			if pkg := e.fd.GetPackage(); pkg != "" {
				svc = pkg + "." + svc
			}
			for _, md := range sd.GetMethod() {
				if r := httpRuleOf(md.GetOptions()); r != nil {
					rules["/"+svc+"/"+md.GetName()] = r
				}
			}
		}
		s.sources[path] = e.source
		digests[path] = fileDigest(path, e.source, raw, keepComments(path, e.fd))
		// Its descriptor proto is not needed any more: let it go now
		// rather than at the end of the check, which lowers the peak.
		byPath[path] = entry{source: e.source}
		return true
	}
	for _, path := range order {
		visit(path, path)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	s.fingerprint = combineDigests(digests)
	// What the check built, and the sources' descriptors, are garbage
	// from here on. Collecting it before the snapshot's own descriptors are
	// made lets them fill memory of their own rather than the gaps the
	// garbage leaves, and what the check made that the snapshot keeps
	// (serialized files, comments, names) is copied, packed, after the
	// collection for the same reason: a small live object left among
	// garbage keeps its whole span of memory. So the garbage's memory can
	// go back to the system: for Google's APIs the RSS after load is about
	// 90 MiB lower, for a step that is rare (start-up, reloads) and costs
	// seconds anyway. Twice: a sync.Pool keeps what one collection frees
	// until the next, and protobuf-go pools the buffers it writes names
	// to, so the check's would otherwise take the snapshot's names and
	// keep its own.
	checked, byPath = nil, nil
	runtime.GC()
	runtime.GC()
	size := 0
	for _, p := range plan {
		size += len(p.raw)
	}
	arena := make([]byte, 0, size)
	byFile := make(map[string]string, len(plan))
	names := map[string]string{} // one copy of each source's name
	for _, p := range plan {
		fd := p.linked
		if fd == nil {
			start := len(arena)
			arena = append(arena, p.raw...)
			var err error
			if fd, err = buildRaw(arena[start:len(arena):len(arena)], s.files); err != nil {
				errs = append(errs, fmt.Errorf("%s: file %q: %w", s.sources[p.path], p.path, err))
				continue
			}
		}
		source := s.sources[fd.Path()]
		if _, ok := names[source]; !ok {
			names[source] = strings.Clone(source)
		}
		byFile[fd.Path()] = names[source]
		if err := s.files.RegisterFile(fd); err != nil {
			errs = append(errs, fmt.Errorf("%s: file %q: %w", source, fd.Path(), err))
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	s.sources = byFile
	s.comments = packComments(s.comments)

	var typeErrs []error
	s.files.RangeFiles(func(fd protoreflect.FileDescriptor) bool {
		if err := s.indexFile(fd, rules); err != nil {
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

// indexFile indexes the methods and types of fd. rules are the HTTP rules
// of the files built from serialized descriptors, whose options are not
// decoded for them; a linked file's are read from its options.
func (s *Snapshot) indexFile(fd protoreflect.FileDescriptor, rules map[string]*annotations.HttpRule) error {
	source := s.sources[fd.Path()]
	linked, _ := protoregistry.GlobalFiles.FindFileByPath(fd.Path())
	services := fd.Services()
	for i := 0; i < services.Len(); i++ {
		sd := services.Get(i)
		methods := sd.Methods()
		for j := 0; j < methods.Len(); j++ {
			md := methods.Get(j)
			path := "/" + string(sd.FullName()) + "/" + string(md.Name())
			m := &Method{Path: path, Desc: md, Source: source}
			if fd == linked {
				m.HTTPRule = httpRuleOf(md.Options())
			} else if r := rules[path]; r != nil {
				// A copy, made now: the rule read from the source would
				// keep the memory of the source's garbage around it.
				m.HTTPRule = proto.CloneOf(r)
			}
			s.methods[path] = m
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

// CommentedFiles returns the comments of the snapshot's files, for
// documentation generators: one FileDescriptorProto per file that has
// comments, holding its name and a SourceCodeInfo whose locations carry a
// path and its leading and trailing comments (no spans, no detached
// comments). The snapshot's descriptors carry no source information: it is
// most of a large contract's memory, so it is kept compressed, apart, and
// decoded here on every call (which allocates; call it once per document).
// The linked twins of descriptor-set files get the set's comments.
func (s *Snapshot) CommentedFiles() []*descriptorpb.FileDescriptorProto {
	out := make([]*descriptorpb.FileDescriptorProto, 0, len(s.comments))
	for _, c := range s.comments {
		f, err := c.file()
		if err != nil {
			continue // cannot happen: packed by Build from a valid message
		}
		out = append(out, f)
	}
	return out
}

// Source names where the file at path came from.
func (s *Snapshot) Source(path string) string { return s.sources[path] }

// httpRuleOf returns the google.api.http option in opts, or nil. Options
// decoded before the extension was known keep it as unknown fields; it is
// decoded from them then.
func httpRuleOf(opts protoreflect.ProtoMessage) *annotations.HttpRule {
	mo, ok := opts.(*descriptorpb.MethodOptions)
	if !ok || mo == nil {
		return nil
	}
	if proto.HasExtension(mo, annotations.E_Http) {
		r, _ := proto.GetExtension(mo, annotations.E_Http).(*annotations.HttpRule)
		return r
	}
	if len(mo.ProtoReflect().GetUnknown()) == 0 {
		return nil
	}
	raw, err := proto.Marshal(mo)
	if err != nil {
		return nil
	}
	parsed := new(descriptorpb.MethodOptions)
	if err := proto.Unmarshal(raw, parsed); err != nil || !proto.HasExtension(parsed, annotations.E_Http) {
		return nil
	}
	r, _ := proto.GetExtension(parsed, annotations.E_Http).(*annotations.HttpRule)
	return r
}

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
