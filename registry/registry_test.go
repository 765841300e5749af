package registry_test

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"

	libraryv1 "github.com/sluice-dev/sluice/gen/go/sluice/demo/library/v1"
	"github.com/sluice-dev/sluice/registry"
)

const demoSet = "../gen/descriptors/demo.binpb"

func readSet(t *testing.T) *descriptorpb.FileDescriptorSet {
	t.Helper()
	data, err := os.ReadFile(demoSet)
	if err != nil {
		t.Fatal(err)
	}
	var set descriptorpb.FileDescriptorSet
	if err := proto.Unmarshal(data, &set); err != nil {
		t.Fatal(err)
	}
	return &set
}

func writeSet(t *testing.T, set *descriptorpb.FileDescriptorSet) string {
	t.Helper()
	data, err := proto.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "set.binpb")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestSourcesAgree(t *testing.T) {
	t.Parallel()
	for name, src := range map[string]registry.Source{
		"linked":         registry.Linked(libraryv1.File_sluice_demo_library_v1_library_proto),
		"descriptor set": registry.DescriptorSetFile(demoSet),
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s, err := registry.Build(src)
			if err != nil {
				t.Fatal(err)
			}
			kinds := map[string]string{}
			for _, m := range s.Methods() {
				kinds[m.Path] = m.Kind()
			}
			want := map[string]string{
				"/sluice.demo.library.v1.LibraryService/GetBook":     "unary",
				"/sluice.demo.library.v1.LibraryService/WatchShelf":  "server_streaming",
				"/sluice.demo.library.v1.LibraryService/ImportBooks": "client_streaming",
				"/sluice.demo.library.v1.LibraryService/DiscussBook": "bidi_streaming",
			}
			for path, kind := range want {
				if kinds[path] != kind {
					t.Errorf("%s: kind %q, want %q", path, kinds[path], kind)
				}
			}
			if got := s.Services(); len(got) != 1 || got[0] != "sluice.demo.library.v1.LibraryService" {
				t.Errorf("services = %v", got)
			}
			m, ok := s.Method("/sluice.demo.library.v1.LibraryService/GetBook")
			if !ok {
				t.Fatal("GetBook missing")
			}
			if m.Source != src.Name() {
				t.Errorf("source = %q, want %q", m.Source, src.Name())
			}
			mt, err := s.Types().FindMessageByName(m.Desc.Input().FullName())
			if err != nil {
				t.Fatal(err)
			}
			// Both are the contract compiled into this binary: its
			// generated Go types are the fast path.
			if _, dynamic := mt.New().Interface().(*dynamicpb.Message); dynamic {
				t.Error("input type is dynamic; the linked generated type should be used")
			}
		})
	}
}

// A contract that differs from the linked one gets dynamic types.
func TestChangedContractIsDynamic(t *testing.T) {
	t.Parallel()
	set := readSet(t)
	for _, f := range set.GetFile() {
		if f.GetName() == "sluice/demo/library/v1/library.proto" {
			for _, m := range f.GetMessageType() {
				if m.GetName() == "GetBookRequest" {
					m.Field = append(m.Field, &descriptorpb.FieldDescriptorProto{
						Name: proto.String("extra"), JsonName: proto.String("extra"), Number: proto.Int32(99),
						Type: descriptorpb.FieldDescriptorProto_TYPE_STRING.Enum(), Label: descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum(),
					})
				}
			}
		}
	}
	s, err := registry.Build(registry.DescriptorSet("v2.binpb", mustMarshal(t, set)))
	if err != nil {
		t.Fatal(err)
	}
	mt, err := s.Types().FindMessageByName("sluice.demo.library.v1.GetBookRequest")
	if err != nil {
		t.Fatal(err)
	}
	msg := mt.New()
	if _, dynamic := msg.Interface().(*dynamicpb.Message); !dynamic {
		t.Error("changed contract uses the linked type")
	}
	if msg.Descriptor().Fields().ByName("extra") == nil {
		t.Error("changed contract lacks its new field")
	}
}

// Linked and descriptor-set sources of the same contract merge.
func TestSameFileFromTwoSources(t *testing.T) {
	t.Parallel()
	_, err := registry.Build(registry.DescriptorSetFile(demoSet), registry.DescriptorSetFile(demoSet))
	if err != nil {
		t.Fatalf("the same set twice: %v", err)
	}
	s, err := registry.Build(registry.Linked(libraryv1.File_sluice_demo_library_v1_library_proto), registry.DescriptorSetFile(demoSet))
	if err != nil {
		t.Fatalf("linked and descriptor set of the same contract: %v", err)
	}
	// Generated types serve, and the set's comments are kept for docs.
	mt, err := s.Types().FindMessageByName("sluice.demo.library.v1.GetBookRequest")
	if err != nil {
		t.Fatal(err)
	}
	if _, dynamic := mt.New().Interface().(*dynamicpb.Message); dynamic {
		t.Error("linked + descriptor set: the input type is dynamic, want the generated one")
	}
	var commented bool
	for _, f := range s.CommentedFiles() {
		commented = commented || (f.GetName() == "sluice/demo/library/v1/library.proto" && len(f.GetSourceCodeInfo().GetLocation()) > 0)
	}
	if !commented {
		t.Error("linked + descriptor set: the set's comments were dropped")
	}
}

func TestBadDescriptorSets(t *testing.T) {
	t.Parallel()
	full := readSet(t)
	var library *descriptorpb.FileDescriptorProto
	for _, f := range full.GetFile() {
		if f.GetName() == "sluice/demo/library/v1/library.proto" {
			library = f
		}
	}
	if library == nil {
		t.Fatal("demo set lacks library.proto")
	}

	missingDep := proto.Clone(library).(*descriptorpb.FileDescriptorProto)
	missingDep.Dependency = append(missingDep.Dependency, "acme/missing/v1/missing.proto")

	changed := proto.Clone(library).(*descriptorpb.FileDescriptorProto)
	changed.MessageType = changed.MessageType[1:]

	cases := []struct {
		name  string
		src   func(t *testing.T) []registry.Source
		wants []string
	}{
		{
			name: "not a descriptor set",
			src: func(t *testing.T) []registry.Source {
				return []registry.Source{registry.DescriptorSet("junk.binpb", []byte("this is not protobuf"))}
			},
			wants: []string{"junk.binpb", "not a FileDescriptorSet"},
		},
		{
			name: "empty set",
			src: func(t *testing.T) []registry.Source {
				return []registry.Source{registry.DescriptorSet("empty.binpb", nil)}
			},
			wants: []string{"empty.binpb", "no files"},
		},
		{
			name: "missing file",
			src: func(t *testing.T) []registry.Source {
				return []registry.Source{registry.DescriptorSetFile(filepath.Join(t.TempDir(), "nope.binpb"))}
			},
			wants: []string{"nope.binpb", "no such file"},
		},
		{
			name: "import missing from the set and from the binary",
			src: func(t *testing.T) []registry.Source {
				set := &descriptorpb.FileDescriptorSet{File: []*descriptorpb.FileDescriptorProto{missingDep}}
				return []registry.Source{registry.DescriptorSetFile(writeSet(t, set))}
			},
			wants: []string{"set.binpb", "sluice/demo/library/v1/library.proto", "acme/missing/v1/missing.proto", "--include_imports"},
		},
		{
			name: "same file, different content",
			src: func(t *testing.T) []registry.Source {
				return []registry.Source{
					registry.DescriptorSetFile(demoSet),
					registry.DescriptorSet("changed.binpb", mustMarshal(t, &descriptorpb.FileDescriptorSet{File: []*descriptorpb.FileDescriptorProto{changed}})),
				}
			},
			wants: []string{"sluice/demo/library/v1/library.proto", "defined differently", demoSet, "changed.binpb"},
		},
		{
			name: "same symbol in two files",
			src: func(t *testing.T) []registry.Source {
				dup := proto.Clone(library).(*descriptorpb.FileDescriptorProto)
				dup.Name = proto.String("sluice/demo/library/v1/copy.proto")
				return []registry.Source{
					registry.DescriptorSetFile(demoSet),
					registry.DescriptorSet("copy.binpb", mustMarshal(t, &descriptorpb.FileDescriptorSet{File: []*descriptorpb.FileDescriptorProto{dup}})),
				}
			},
			wants: []string{"copy.binpb", "sluice/demo/library/v1/copy.proto", "sluice.demo.library.v1"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := registry.Build(tc.src(t)...)
			if err == nil {
				t.Fatal("Build succeeded, want an error")
			}
			for _, w := range tc.wants {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

// A set with only the contract's own file loads when its imports are
// linked into the binary (well-known types, google.api annotations).
func TestImportsResolvedFromLinkedDescriptors(t *testing.T) {
	t.Parallel()
	var library *descriptorpb.FileDescriptorProto
	for _, f := range readSet(t).GetFile() {
		if f.GetName() == "sluice/demo/library/v1/library.proto" {
			library = f
		}
	}
	set := &descriptorpb.FileDescriptorSet{File: []*descriptorpb.FileDescriptorProto{library}}
	s, err := registry.Build(registry.DescriptorSet("only-library.binpb", mustMarshal(t, set)))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := s.Method("/sluice.demo.library.v1.LibraryService/GetBook"); !ok {
		t.Error("GetBook missing")
	}
	if got := s.Source("google/protobuf/timestamp.proto"); got != "linked" {
		t.Errorf("timestamp.proto source = %q, want linked", got)
	}
}

func mustMarshal(t *testing.T, m proto.Message) []byte {
	t.Helper()
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Reload swaps the snapshot atomically; a failed reload keeps the old one,
// and so does a reload that finds the same contracts.
func TestReloadKeepsOldSnapshotOnError(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "api.binpb")
	good, err := os.ReadFile(demoSet)
	if err != nil {
		t.Fatal(err)
	}
	// other differs from good in one comment only.
	set := readSet(t)
	for _, f := range set.GetFile() {
		if f.GetName() == "sluice/demo/library/v1/library.proto" {
			for _, l := range f.GetSourceCodeInfo().GetLocation() {
				if l.LeadingComments != nil {
					l.LeadingComments = proto.String(*l.LeadingComments + " (changed)")
					break
				}
			}
		}
	}
	other := mustMarshal(t, set)
	if err := os.WriteFile(path, good, 0o600); err != nil {
		t.Fatal(err)
	}
	reg, err := registry.New(registry.DescriptorSetFile(path))
	if err != nil {
		t.Fatal(err)
	}
	first := reg.Snapshot()

	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(1)
	go func() { // readers never see nil or a half-built snapshot
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			s := reg.Snapshot()
			if _, ok := s.Method("/sluice.demo.library.v1.LibraryService/GetBook"); !ok {
				t.Error("a reader saw a snapshot without GetBook")
				return
			}
		}
	}()
	if err := reg.Reload(); err != nil {
		t.Fatal(err)
	}
	if reg.Snapshot() != first {
		t.Error("Reload of the same contracts replaced the snapshot")
	}
	for i := 0; i < 5; i++ {
		before := reg.Snapshot()
		next := other
		if i%2 == 1 {
			next = good
		}
		if err := os.WriteFile(path, next, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := reg.Reload(); err != nil {
			t.Fatal(err)
		}
		if reg.Snapshot() == before {
			t.Errorf("reload %d of changed contracts did not swap the snapshot", i)
		}
	}
	current := reg.Snapshot()
	if err := os.WriteFile(path, []byte("broken"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := reg.Reload(); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("reload of a broken set: %v, want an error naming %s", err, path)
	}
	if reg.Snapshot() != current {
		t.Error("a failed reload replaced the snapshot")
	}
	close(stop)
	wg.Wait()
}

var _ protoreflect.FileDescriptor = libraryv1.File_sluice_demo_library_v1_library_proto

// A snapshot's methods carry their google.api.http rule, whichever source
// they come from, and its comments survive for documentation although its
// descriptors carry no source information.
func TestHTTPRulesAndComments(t *testing.T) {
	t.Parallel()
	for name, src := range map[string]registry.Source{
		"linked":         registry.Linked(libraryv1.File_sluice_demo_library_v1_library_proto),
		"descriptor set": registry.DescriptorSetFile(demoSet),
		"in memory":      registry.DescriptorSet("demo", mustMarshal(t, readSet(t))),
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s, err := registry.Build(src)
			if err != nil {
				t.Fatal(err)
			}
			m, ok := s.Method("/sluice.demo.library.v1.LibraryService/GetShelf")
			if !ok {
				t.Fatal("no GetShelf")
			}
			if got := m.HTTPRule.GetGet(); got != "/v1/{name=shelves/*}" {
				t.Errorf("GetShelf's rule: GET %q, want /v1/{name=shelves/*}", got)
			}
			for _, m := range s.Methods() {
				if m.HTTPRule == nil {
					t.Errorf("%s has no HTTP rule", m.Path)
				}
			}
			if name == "linked" {
				return // generated code carries no comments
			}
			if locs := m.Desc.ParentFile().SourceLocations().Len(); locs != 0 {
				t.Errorf("the descriptor keeps %d source locations, want them apart", locs)
			}
			var comment string
			for _, f := range s.CommentedFiles() {
				if f.GetName() != "sluice/demo/library/v1/library.proto" {
					continue
				}
				for _, l := range f.GetSourceCodeInfo().GetLocation() {
					// service 0, method 1: GetShelf
					if len(l.GetPath()) == 4 && l.GetPath()[0] == 6 && l.GetPath()[1] == 0 && l.GetPath()[2] == 2 && l.GetPath()[3] == 1 {
						comment = l.GetLeadingComments()
					}
				}
			}
			if !strings.Contains(comment, "shelf") {
				t.Errorf("GetShelf's comment is %q, want its doc comment", comment)
			}
		})
	}
}

// WithoutComments builds the same contracts and keeps no comments.
func TestWithoutComments(t *testing.T) {
	t.Parallel()
	s, err := registry.Build(registry.WithoutComments(registry.DescriptorSetFile(demoSet)))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := s.Method("/sluice.demo.library.v1.LibraryService/GetShelf"); !ok {
		t.Error("no GetShelf")
	}
	if files := s.CommentedFiles(); len(files) != 0 {
		t.Errorf("%d files with comments, want none", len(files))
	}
	// A linked source stays one: its generated types serve.
	s, err = registry.Build(registry.WithoutComments(registry.Linked(libraryv1.File_sluice_demo_library_v1_library_proto)))
	if err != nil {
		t.Fatal(err)
	}
	mt, err := s.Types().FindMessageByName("sluice.demo.library.v1.GetBookRequest")
	if err != nil {
		t.Fatal(err)
	}
	if _, dynamic := mt.New().Interface().(*dynamicpb.Message); dynamic {
		t.Error("WithoutComments(Linked(...)): the input type is dynamic, want the generated one")
	}
}

// Type names relative to their scope ("Thing" for ".scale.v1.Thing"), which
// protoc never writes but descriptors built by hand may hold, resolve as
// protobuf's scoping rules say.
func TestRelativeTypeNames(t *testing.T) {
	t.Parallel()
	str := descriptorpb.FieldDescriptorProto_TYPE_STRING.Enum()
	msg := descriptorpb.FieldDescriptorProto_TYPE_MESSAGE.Enum()
	opt := descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum()
	file := &descriptorpb.FileDescriptorProto{
		Name:    proto.String("scale/v1/scale.proto"),
		Package: proto.String("scale.v1"),
		Syntax:  proto.String("proto3"),
		MessageType: []*descriptorpb.DescriptorProto{
			{Name: proto.String("Thing"), Field: []*descriptorpb.FieldDescriptorProto{
				{Name: proto.String("name"), JsonName: proto.String("name"), Number: proto.Int32(1), Type: str, Label: opt},
			}},
			{Name: proto.String("GetThingResponse"), Field: []*descriptorpb.FieldDescriptorProto{
				{Name: proto.String("thing"), JsonName: proto.String("thing"), Number: proto.Int32(1), Type: msg, Label: opt, TypeName: proto.String("Thing")},
			}},
		},
		Service: []*descriptorpb.ServiceDescriptorProto{{
			Name: proto.String("ScaleService"),
			Method: []*descriptorpb.MethodDescriptorProto{{
				Name: proto.String("GetThing"), InputType: proto.String("Thing"), OutputType: proto.String("scale.v1.GetThingResponse"),
			}},
		}},
	}
	set := mustMarshal(t, &descriptorpb.FileDescriptorSet{File: []*descriptorpb.FileDescriptorProto{file}})
	s, err := registry.Build(registry.DescriptorSet("relative", set))
	if err != nil {
		t.Fatal(err)
	}
	m, ok := s.Method("/scale.v1.ScaleService/GetThing")
	if !ok {
		t.Fatal("no GetThing")
	}
	if in := m.Desc.Input(); in.IsPlaceholder() || in.FullName() != "scale.v1.Thing" {
		t.Errorf("input %s (placeholder %t), want scale.v1.Thing", in.FullName(), in.IsPlaceholder())
	}
	thing := m.Desc.Output().Fields().ByName("thing")
	if thing == nil || thing.Message() == nil || thing.Message().IsPlaceholder() || thing.Message().FullName() != "scale.v1.Thing" {
		t.Errorf("GetThingResponse.thing does not resolve to scale.v1.Thing: %v", thing)
	}
}
