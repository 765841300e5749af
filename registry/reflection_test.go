package registry_test

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/reflection"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	reflectionv1alphapb "google.golang.org/grpc/reflection/grpc_reflection_v1alpha"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/sluice-dev/sluice/demo"
	"github.com/sluice-dev/sluice/registry"
)

// Reflection and watcher tests run real gRPC servers and goroutines.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const getBook = "/sluice.demo.library.v1.LibraryService/GetBook"

// serve runs s on a loopback port and returns a client connection to it;
// both end with the test.
func serve(t *testing.T, s *grpc.Server) *grpc.ClientConn {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = s.Serve(ln)
	}()
	cc, err := grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cc.Close()
		s.Stop()
		<-done
	})
	return cc
}

func TestReflectionSource(t *testing.T) {
	t.Parallel()
	v1alphaOnly := func() *grpc.Server {
		s := grpc.NewServer()
		demo.NewLibrary().Register(s)
		reflectionv1alphapb.RegisterServerReflectionServer(s, reflection.NewServer(reflection.ServerOptions{Services: s}))
		return s
	}
	v1Only := func() *grpc.Server {
		s := grpc.NewServer()
		demo.NewLibrary().Register(s)
		reflection.RegisterV1(s)
		return s
	}
	cases := []struct {
		name     string
		server   func() *grpc.Server
		opts     []registry.ReflectionOption
		services []string
	}{
		{
			name:     "demo upstream",
			server:   func() *grpc.Server { return demo.NewServer(nil) },
			services: []string{"sluice.demo.library.v1.LibraryService"},
		},
		{
			name:     "v1 only",
			server:   v1Only,
			services: []string{"sluice.demo.library.v1.LibraryService"},
		},
		{
			name:     "v1alpha only",
			server:   v1alphaOnly,
			services: []string{"sluice.demo.library.v1.LibraryService"},
		},
		{
			name:   "internal services asked for",
			server: func() *grpc.Server { return demo.NewServer(nil) },
			opts:   []registry.ReflectionOption{registry.WithInternalServices()},
			services: []string{
				"grpc.health.v1.Health",
				"grpc.reflection.v1.ServerReflection",
				"grpc.reflection.v1alpha.ServerReflection",
				"sluice.demo.library.v1.LibraryService",
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cc := serve(t, tc.server())
			src := registry.Reflection("library", cc, tc.opts...)
			if got, want := src.Name(), "reflection:library"; got != want {
				t.Errorf("Name() = %q, want %q", got, want)
			}
			// Twice, to show Files can be asked again (v1alpha is then
			// remembered).
			for i := 0; i < 2; i++ {
				reg, err := registry.New(src)
				if err != nil {
					t.Fatal(err)
				}
				s := reg.Snapshot()
				if got := s.Services(); strings.Join(got, ",") != strings.Join(tc.services, ",") {
					t.Errorf("services = %v, want %v", got, tc.services)
				}
				m, ok := s.Method(getBook)
				if !ok {
					t.Fatal("GetBook missing")
				}
				if m.Source != "reflection:library" {
					t.Errorf("source = %q", m.Source)
				}
				rule, ok := proto.GetExtension(m.Desc.Options(), annotations.E_Http).(*annotations.HttpRule)
				if !ok || rule.GetGet() != "/v1/{name=shelves/*/books/*}" {
					t.Errorf("GetBook http rule = %v, want the annotation served by reflection", rule)
				}
			}
		})
	}
}

// Calls to Files at the same time each get the whole contract.
func TestReflectionConcurrentFiles(t *testing.T) {
	t.Parallel()
	cc := serve(t, demo.NewServer(nil))
	src := registry.Reflection("library", cc)
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := registry.Build(src); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
}

// fakeReflection is a v1 reflection server serving whatever files it is
// given, for answers a well-behaved server never gives.
type fakeReflection struct {
	reflectionpb.UnimplementedServerReflectionServer
	services []string
	files    map[string]*descriptorpb.FileDescriptorProto
	block    bool // never answers
}

func (f *fakeReflection) ServerReflectionInfo(stream reflectionpb.ServerReflection_ServerReflectionInfoServer) error {
	for {
		req, err := stream.Recv()
		if err != nil {
			return nil
		}
		if f.block {
			<-stream.Context().Done()
			return stream.Context().Err()
		}
		resp := &reflectionpb.ServerReflectionResponse{}
		var name string
		switch r := req.GetMessageRequest().(type) {
		case *reflectionpb.ServerReflectionRequest_ListServices:
			list := &reflectionpb.ListServiceResponse{}
			for _, s := range f.services {
				list.Service = append(list.Service, &reflectionpb.ServiceResponse{Name: s})
			}
			resp.MessageResponse = &reflectionpb.ServerReflectionResponse_ListServicesResponse{ListServicesResponse: list}
		case *reflectionpb.ServerReflectionRequest_FileContainingSymbol:
			for n, fd := range f.files {
				for _, sd := range fd.GetService() {
					if fd.GetPackage()+"."+sd.GetName() == r.FileContainingSymbol {
						name = n
					}
				}
			}
		case *reflectionpb.ServerReflectionRequest_FileByFilename:
			name = r.FileByFilename
		}
		if resp.MessageResponse == nil {
			fd, ok := f.files[name]
			if !ok {
				resp.MessageResponse = &reflectionpb.ServerReflectionResponse_ErrorResponse{ErrorResponse: &reflectionpb.ErrorResponse{
					ErrorCode: int32(codes.NotFound), ErrorMessage: "not found: " + name,
				}}
			} else {
				b, err := proto.Marshal(fd)
				if err != nil {
					return err
				}
				resp.MessageResponse = &reflectionpb.ServerReflectionResponse_FileDescriptorResponse{FileDescriptorResponse: &reflectionpb.FileDescriptorResponse{
					FileDescriptorProto: [][]byte{b},
				}}
			}
		}
		if err := stream.Send(resp); err != nil {
			return err
		}
	}
}

func serveFake(t *testing.T, f *fakeReflection) *grpc.ClientConn {
	t.Helper()
	s := grpc.NewServer()
	reflectionpb.RegisterServerReflectionServer(s, f)
	return serve(t, s)
}

// echoFile is a hand-written contract: service acme.echo.v1.Echo with the
// given methods, each taking and returning acme.echo.v1.Text, with a
// google.api.http binding POST /v1/{method}.
func echoFile(methods ...string) *descriptorpb.FileDescriptorProto {
	fd := &descriptorpb.FileDescriptorProto{
		Name:       proto.String("acme/echo/v1/echo.proto"),
		Package:    proto.String("acme.echo.v1"),
		Syntax:     proto.String("proto3"),
		Dependency: []string{"google/api/annotations.proto", "acme/echo/v1/text.proto"},
		Service:    []*descriptorpb.ServiceDescriptorProto{{Name: proto.String("Echo")}},
	}
	for _, m := range methods {
		opts := &descriptorpb.MethodOptions{}
		proto.SetExtension(opts, annotations.E_Http, &annotations.HttpRule{
			Pattern: &annotations.HttpRule_Post{Post: "/v1/" + strings.ToLower(m)},
			Body:    "*",
		})
		fd.Service[0].Method = append(fd.Service[0].Method, &descriptorpb.MethodDescriptorProto{
			Name:       proto.String(m),
			InputType:  proto.String(".acme.echo.v1.Text"),
			OutputType: proto.String(".acme.echo.v1.Text"),
			Options:    opts,
		})
	}
	return fd
}

func textFile() *descriptorpb.FileDescriptorProto {
	return &descriptorpb.FileDescriptorProto{
		Name:    proto.String("acme/echo/v1/text.proto"),
		Package: proto.String("acme.echo.v1"),
		Syntax:  proto.String("proto3"),
		MessageType: []*descriptorpb.DescriptorProto{{
			Name: proto.String("Text"),
			Field: []*descriptorpb.FieldDescriptorProto{{
				Name: proto.String("text"), JsonName: proto.String("text"), Number: proto.Int32(1),
				Type:  descriptorpb.FieldDescriptorProto_TYPE_STRING.Enum(),
				Label: descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum(),
			}},
		}},
	}
}

func TestReflectionErrors(t *testing.T) {
	t.Parallel()
	missingImport := echoFile("Say")
	missingImport.Dependency = append(missingImport.Dependency, "acme/missing/v1/missing.proto")
	cases := []struct {
		name  string
		conn  func(t *testing.T) *grpc.ClientConn
		opts  []registry.ReflectionOption
		wants []string
	}{
		{
			name: "import the upstream does not serve",
			conn: func(t *testing.T) *grpc.ClientConn {
				return serveFake(t, &fakeReflection{
					services: []string{"acme.echo.v1.Echo"},
					files:    map[string]*descriptorpb.FileDescriptorProto{"acme/echo/v1/echo.proto": missingImport, "acme/echo/v1/text.proto": textFile()},
				})
			},
			wants: []string{"reflection:acme", `"acme/missing/v1/missing.proto"`, `imported by "acme/echo/v1/echo.proto"`, "not found"},
		},
		{
			name: "service without a file",
			conn: func(t *testing.T) *grpc.ClientConn {
				return serveFake(t, &fakeReflection{services: []string{"acme.echo.v1.Echo"}})
			},
			wants: []string{"reflection:acme", "acme.echo.v1.Echo", "NotFound"},
		},
		{
			name: "no services",
			conn: func(t *testing.T) *grpc.ClientConn {
				return serveFake(t, &fakeReflection{services: []string{"grpc.health.v1.Health"}})
			},
			wants: []string{"reflection:acme", "no services"},
		},
		{
			name: "no reflection at all",
			conn: func(t *testing.T) *grpc.ClientConn {
				s := grpc.NewServer()
				demo.NewLibrary().Register(s)
				return serve(t, s)
			},
			wants: []string{"reflection:acme", "no server reflection", "Unimplemented"},
		},
		{
			name:  "too many files",
			conn:  func(t *testing.T) *grpc.ClientConn { return serve(t, demo.NewServer(nil)) },
			opts:  []registry.ReflectionOption{registry.WithReflectionLimits(2, 0)},
			wants: []string{"reflection:acme", "more than 2 files"},
		},
		{
			name:  "too many bytes",
			conn:  func(t *testing.T) *grpc.ClientConn { return serve(t, demo.NewServer(nil)) },
			opts:  []registry.ReflectionOption{registry.WithReflectionLimits(0, 1000)},
			wants: []string{"reflection:acme", "limit 1000 bytes"},
		},
		{
			name: "too many bytes in all",
			conn: func(t *testing.T) *grpc.ClientConn {
				return serveFake(t, &fakeReflection{
					services: []string{"acme.echo.v1.Echo"},
					files:    map[string]*descriptorpb.FileDescriptorProto{"acme/echo/v1/echo.proto": echoFile("Say"), "acme/echo/v1/text.proto": textFile()},
				})
			},
			// Each file fits, both do not.
			opts:  []registry.ReflectionOption{registry.WithReflectionLimits(0, proto.Size(echoFile("Say"))+10)},
			wants: []string{"reflection:acme", `imported by "acme/echo/v1/echo.proto"`, "descriptors exceed"},
		},
		{
			name: "upstream never answers",
			conn: func(t *testing.T) *grpc.ClientConn {
				return serveFake(t, &fakeReflection{block: true})
			},
			opts:  []registry.ReflectionOption{registry.WithReflectionTimeout(100 * time.Millisecond)},
			wants: []string{"reflection:acme", "within 100ms"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			start := time.Now()
			_, err := registry.Build(registry.Reflection("acme", tc.conn(t), tc.opts...))
			if err == nil {
				t.Fatal("Build succeeded, want an error")
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("took %v", d)
			}
			for _, w := range tc.wants {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

// swappable is the contract of a changing upstream: a reflection server's
// service list and descriptor resolver that a test replaces at will, as a
// redeploy would.
type swappable struct {
	files    atomic.Pointer[protoregistry.Files]
	services atomic.Pointer[map[string]grpc.ServiceInfo]
}

func (s *swappable) set(t *testing.T, fds ...*descriptorpb.FileDescriptorProto) {
	t.Helper()
	files := new(protoregistry.Files)
	svcs := map[string]grpc.ServiceInfo{}
	for _, fdp := range fds {
		fd, err := protodesc.NewFile(fdp, resolvers{files, protoregistry.GlobalFiles})
		if err != nil {
			t.Fatal(err)
		}
		if err := files.RegisterFile(fd); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < fd.Services().Len(); i++ {
			svcs[string(fd.Services().Get(i).FullName())] = grpc.ServiceInfo{}
		}
	}
	s.files.Store(files)
	s.services.Store(&svcs)
}

func (s *swappable) GetServiceInfo() map[string]grpc.ServiceInfo { return *s.services.Load() }

func (s *swappable) FindFileByPath(p string) (protoreflect.FileDescriptor, error) {
	return resolvers{s.files.Load(), protoregistry.GlobalFiles}.FindFileByPath(p)
}

func (s *swappable) FindDescriptorByName(n protoreflect.FullName) (protoreflect.Descriptor, error) {
	return resolvers{s.files.Load(), protoregistry.GlobalFiles}.FindDescriptorByName(n)
}

// resolvers looks in each in turn.
type resolvers []*protoregistry.Files

func (rs resolvers) FindFileByPath(p string) (protoreflect.FileDescriptor, error) {
	for _, r := range rs {
		if fd, err := r.FindFileByPath(p); err == nil {
			return fd, nil
		}
	}
	return nil, protoregistry.NotFound
}

func (rs resolvers) FindDescriptorByName(n protoreflect.FullName) (protoreflect.Descriptor, error) {
	for _, r := range rs {
		if d, err := r.FindDescriptorByName(n); err == nil {
			return d, nil
		}
	}
	return nil, protoregistry.NotFound
}

// A method added to the upstream appears after the refresh interval; a
// snapshot that did not change does not call back.
func TestWatcherPicksUpUpstreamChange(t *testing.T) {
	t.Parallel()
	up := new(swappable)
	up.set(t, textFile(), echoFile("Say"))
	// The reflection server reads the contract from up, not from the
	// grpc.Server's registered services, so the test can change it.
	s := grpc.NewServer()
	reflectionpb.RegisterServerReflectionServer(s, reflection.NewServerV1(reflection.ServerOptions{Services: up, DescriptorResolver: up}))
	cc := serve(t, s)

	reg, err := registry.New(registry.Reflection("echo", cc))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := reg.Snapshot().Method("/acme.echo.v1.Echo/Shout"); ok {
		t.Fatal("Shout exists before it was added")
	}
	changes := make(chan *registry.Snapshot, 10)
	w := registry.NewWatcher(reg,
		registry.WithInterval(20*time.Millisecond),
		registry.WithReloadEveryInterval(),
		registry.WithOnChange(func(s *registry.Snapshot) { changes <- s }),
	)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != context.Canceled {
			t.Errorf("Run = %v, want context.Canceled", err)
		}
	}()

	// Several ticks with the same contract: no change reported.
	select {
	case <-changes:
		t.Fatal("an unchanged upstream reported a change")
	case <-time.After(150 * time.Millisecond):
	}

	up.set(t, textFile(), echoFile("Say", "Shout"))
	select {
	case s := <-changes:
		m, ok := s.Method("/acme.echo.v1.Echo/Shout")
		if !ok {
			t.Fatal("the new snapshot lacks Shout")
		}
		if m.Source != "reflection:echo" {
			t.Errorf("source = %q", m.Source)
		}
		if reg.Snapshot() != s {
			t.Error("the registry does not serve the new snapshot")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the added method did not appear")
	}
}

// A broken contract offered at reload is refused, logged, and the old
// snapshot keeps serving; fixing it reloads.
func TestWatcherRefusesBrokenContract(t *testing.T) {
	t.Parallel()
	good := readSet(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "api.binpb")
	write := func(b []byte) {
		t.Helper()
		// Write then rename, as a deployment would: the watcher never sees
		// a half-written file.
		tmp := path + ".tmp"
		if err := os.WriteFile(tmp, b, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, path); err != nil {
			t.Fatal(err)
		}
	}
	write(mustMarshal(t, good))
	reg, err := registry.New(registry.DescriptorSetFile(path))
	if err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	changes := make(chan *registry.Snapshot, 10)
	reloads := make(chan error, 100)
	w := registry.NewWatcher(reg,
		registry.WithInterval(10*time.Millisecond),
		registry.WithFiles(path),
		registry.WithOnChange(func(s *registry.Snapshot) { changes <- s }),
		registry.WithReloaded(func(err error) { reloads <- err }),
		registry.WithWatchLogger(slog.New(slog.NewTextHandler(&logs, nil))),
	)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	defer func() {
		cancel()
		<-done
	}()

	old := reg.Snapshot()
	write([]byte("not a descriptor set"))
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(logs.String(), "reload refused") {
		if time.Now().After(deadline) {
			t.Fatal("the broken file was not noticed")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if !strings.Contains(logs.String(), path) {
		t.Errorf("log %q does not name the file", logs.String())
	}
	if reg.Snapshot() != old {
		t.Error("a refused reload replaced the snapshot")
	}
	if _, ok := reg.Snapshot().Method(getBook); !ok {
		t.Error("GetBook no longer served")
	}
	select {
	case <-changes:
		t.Fatal("a refused reload reported a change")
	default:
	}
	// WithReloaded heard of the refusal, with its reason.
	select {
	case err := <-reloads:
		if err == nil {
			t.Error("a refused reload was reported as a success")
		}
	default:
		t.Error("the refused reload was not reported to WithReloaded")
	}

	// A fixed, changed contract is picked up.
	changed := proto.Clone(good).(*descriptorpb.FileDescriptorSet)
	for _, f := range changed.GetFile() {
		if f.GetName() == "sluice/demo/library/v1/library.proto" {
			svc := f.GetService()[0]
			m := proto.Clone(svc.GetMethod()[0]).(*descriptorpb.MethodDescriptorProto)
			m.Name = proto.String("ListShelvesAgain")
			m.Options = nil
			svc.Method = append(svc.Method, m)
		}
	}
	write(mustMarshal(t, changed))
	select {
	case s := <-changes:
		if _, ok := s.Method("/sluice.demo.library.v1.LibraryService/ListShelvesAgain"); !ok {
			t.Error("the new snapshot lacks the added method")
		}
		var last error
		for len(reloads) > 0 {
			last = <-reloads
		}
		if last != nil {
			t.Errorf("the successful reload was reported as %v", last)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the fixed file was not reloaded")
	}
}

// Trigger reloads without polling; a reload that changes nothing does not
// call back.
func TestWatcherTrigger(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "api.binpb")
	set := readSet(t)
	if err := os.WriteFile(path, mustMarshal(t, set), 0o600); err != nil {
		t.Fatal(err)
	}
	reg, err := registry.New(registry.DescriptorSetFile(path))
	if err != nil {
		t.Fatal(err)
	}
	changes := make(chan *registry.Snapshot, 10)
	var logs syncBuffer
	w := registry.NewWatcher(reg,
		registry.WithInterval(0),
		registry.WithOnChange(func(s *registry.Snapshot) { changes <- s }),
		registry.WithWatchLogger(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))),
	)
	w.Trigger() // before Run: kept until Run starts
	w.Trigger() // merged
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	defer func() {
		cancel()
		<-done
	}()
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(logs.String(), "unchanged") {
		if time.Now().After(deadline) {
			t.Fatal("Trigger did not reload")
		}
		time.Sleep(5 * time.Millisecond)
	}
	select {
	case <-changes:
		t.Fatal("an unchanged reload reported a change")
	default:
	}

	for _, f := range set.GetFile() {
		if f.GetName() == "sluice/demo/library/v1/library.proto" {
			f.Service[0].Method = f.Service[0].Method[1:] // drop ListShelves
		}
	}
	if err := os.WriteFile(path, mustMarshal(t, set), 0o600); err != nil {
		t.Fatal(err)
	}
	w.Trigger()
	select {
	case s := <-changes:
		if _, ok := s.Method("/sluice.demo.library.v1.LibraryService/ListShelves"); ok {
			t.Error("ListShelves still there after it was removed")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Trigger did not reload the changed file")
	}
}

func TestFingerprint(t *testing.T) {
	t.Parallel()
	a, err := registry.Build(registry.DescriptorSetFile(demoSet))
	if err != nil {
		t.Fatal(err)
	}
	b, err := registry.Build(registry.DescriptorSetFile(demoSet))
	if err != nil {
		t.Fatal(err)
	}
	if registry.Fingerprint(a) != registry.Fingerprint(b) {
		t.Error("the same contracts have different fingerprints")
	}
	c, err := registry.Build(registry.DescriptorSet("other.binpb", mustMarshal(t, readSet(t))))
	if err != nil {
		t.Fatal(err)
	}
	if registry.Fingerprint(a) == registry.Fingerprint(c) {
		t.Error("contracts from another source have the same fingerprint")
	}
}

// syncBuffer is a bytes.Buffer safe for a logger and a test to share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
