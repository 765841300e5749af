package transcoding_test

import (
	"log/slog"
	"strings"
	"sync"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/sluice-dev/sluice/frame"
	"github.com/sluice-dev/sluice/internal/gatewaytest"
	"github.com/sluice-dev/sluice/registry"
	"github.com/sluice-dev/sluice/transcoding"
	"github.com/sluice-dev/sluice/transcoding/httprule"
)

// renamed is the things file under another package: the same templates
// for other methods, as two API sets behind one gateway can have.
func renamed(fd *descriptorpb.FileDescriptorProto, pkg string) *descriptorpb.FileDescriptorProto {
	out := proto.Clone(fd).(*descriptorpb.FileDescriptorProto)
	out.Name = proto.String(pkg + "/things.proto")
	out.Package = proto.String(pkg)
	fix := func(s *string) *string {
		if s == nil {
			return nil
		}
		return proto.String(strings.Replace(*s, ".things.v1.", "."+pkg+".", 1))
	}
	for _, m := range out.GetMessageType() {
		for _, f := range m.GetField() {
			f.TypeName = fix(f.TypeName)
		}
	}
	for _, s := range out.GetService() {
		for _, m := range s.GetMethod() {
			m.InputType, m.OutputType = fix(m.InputType), fix(m.OutputType)
		}
	}
	return out
}

// Two API sets whose templates overlap are both served, each under the
// path prefix of its upstream; without prefixes one shadows the other.
func TestPathPrefixServesOverlappingAPIs(t *testing.T) {
	gatewaytest.CheckLeaks(t)
	a := thingsFile(defaultThingRules())
	b := renamed(a, "other.v1")
	snap, err := registry.Build(registry.DescriptorSet("two.binpb", descriptorSet(t, a, b)))
	if err != nil {
		t.Fatal(err)
	}
	plain, err := transcoding.BuildRoutes(snap)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(plain.Problems()); n == 0 {
		t.Fatal("without prefixes the overlapping templates should collide")
	}
	prefixes := func(method string) string {
		if strings.HasPrefix(method, "/other.v1.") {
			return "/other"
		}
		return "/things"
	}
	routes, err := transcoding.BuildRoutes(snap, transcoding.WithPathPrefix(prefixes), transcoding.WithStrictRoutes())
	if err != nil {
		t.Fatalf("with prefixes every binding must be served: %v", err)
	}
	for _, r := range routes.All() {
		if !strings.HasPrefix(r.Template, prefixes(r.Method)+"/v1/") {
			t.Errorf("route %s %s of %s lacks its prefix", r.HTTPMethod, r.Template, r.Method)
		}
	}

	var mu sync.Mutex
	var reached []string
	up := gatewaytest.StartUpstream(t, func(_ any, ss grpc.ServerStream) error {
		m, _ := grpc.MethodFromServerStream(ss)
		mu.Lock()
		reached = append(reached, m)
		mu.Unlock()
		f := new(frame.Frame)
		if err := ss.RecvMsg(f); err != nil {
			return err
		}
		return ss.SendMsg(f)
	}, grpc.ForceServerCodecV2(frame.Codec()))
	e := startREST(t, routes, up, "*", slog.DiscardHandler, newClient())
	for path, want := range map[string]string{
		"/things/v1/things/x": "/things.v1.ThingService/GetThing",
		"/other/v1/things/x":  "/other.v1.ThingService/GetThing",
	} {
		mu.Lock()
		reached = nil
		mu.Unlock()
		if r := e.do(t, "GET", path, ""); r.code != 200 || get(r.json, "name") != "things/x" {
			t.Fatalf("GET %s: %d %s", path, r.code, r.raw)
		}
		mu.Lock()
		got := strings.Join(reached, ",")
		mu.Unlock()
		if got != want {
			t.Errorf("GET %s reached %q, want %q", path, got, want)
		}
	}
	if r := e.do(t, "GET", "/v1/things/x", ""); r.code != 404 {
		t.Errorf("GET without a prefix: %d, want 404", r.code)
	}
}

func TestCheckPrefix(t *testing.T) {
	t.Parallel()
	for p, ok := range map[string]bool{
		"": true, "/a": true, "/library/v2": true, "/a-b.c_d~e": true,
		"a": false, "/a/": false, "/": false, "//a": false, "/a/../b": false, "/{x}": false, "/a*": false, "/a:b": false, "/%2F": false,
	} {
		if err := httprule.CheckPrefix(p); (err == nil) != ok {
			t.Errorf("CheckPrefix(%q) = %v, want ok %v", p, err, ok)
		}
	}
}
