package transcoding_test

import (
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/sluice-dev/sluice/frame"
	"github.com/sluice-dev/sluice/internal/gatewaytest"
	"github.com/sluice-dev/sluice/registry"
	"github.com/sluice-dev/sluice/server"
	"github.com/sluice-dev/sluice/transcoding"
)

// recordingUpstream echoes the request of every call, like echoServer,
// and keeps the last request's bytes; before answering it runs before,
// if set, which may set metadata or fail the call.
type recordingUpstream struct {
	mu     sync.Mutex
	last   []byte
	before func(ss grpc.ServerStream) error
}

func (u *recordingUpstream) start(t *testing.T) string {
	t.Helper()
	return gatewaytest.StartUpstream(t, func(_ any, ss grpc.ServerStream) error {
		f := new(frame.Frame)
		if err := ss.RecvMsg(f); err != nil {
			return err
		}
		if err := ss.RecvMsg(new(frame.Frame)); !errors.Is(err, io.EOF) {
			return err
		}
		u.mu.Lock()
		u.last = append([]byte(nil), f.Bytes()...)
		before := u.before
		u.mu.Unlock()
		if before != nil {
			if err := before(ss); err != nil {
				return err
			}
		}
		return ss.SendMsg(f)
	}, grpc.ForceServerCodecV2(frame.Codec()))
}

func (u *recordingUpstream) request() []byte {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.last
}

// thingsEnv serves the things API (see dynamic_test.go) through a real
// gateway in front of u, with the rules given.
func thingsEnv(t *testing.T, u *recordingUpstream, snap *registry.Snapshot, opts ...transcoding.Option) *env {
	t.Helper()
	return thingsEnvRoutes(t, u, snap, "things.v1", opts...)
}

// thingsEnvRoutes is thingsEnv for the methods that match pattern.
func thingsEnvRoutes(t *testing.T, u *recordingUpstream, snap *registry.Snapshot, pattern string, opts ...transcoding.Option) *env {
	t.Helper()
	gatewaytest.CheckLeaks(t)
	routes, err := transcoding.BuildRoutes(snap, transcoding.WithStrictRoutes())
	if err != nil {
		t.Fatal(err)
	}
	return startREST(t, routes, u.start(t), pattern, slog.DiscardHandler, newClient(), opts...)
}

func thingDescriptor(t *testing.T, snap *registry.Snapshot, name string) protoreflect.MessageDescriptor {
	t.Helper()
	d, err := snap.Files().FindDescriptorByName(protoreflect.FullName(name))
	if err != nil {
		t.Fatal(err)
	}
	return d.(protoreflect.MessageDescriptor)
}

// TestResponseHeaderNotHTTPValue: metadata values that HTTP cannot carry
// (control characters, which a policy or an upstream that is not grpc-go
// may set) are dropped, headers and trailers alike; the call still
// answers 200 with the valid ones, and UTF-8 passes as grpc-gateway
// passes it.
func TestResponseHeaderNotHTTPValue(t *testing.T) {
	gatewaytest.CheckLeaks(t)
	u := &recordingUpstream{before: func(ss grpc.ServerStream) error {
		return grpc.SetHeader(ss.Context(), metadata.Pairs("x-utf8", "caf\xc3\xa9"))
	}}
	target := u.start(t)
	routes, err := transcoding.BuildRoutes(thingsSnapshot(t, defaultThingRules))
	if err != nil {
		t.Fatal(err)
	}
	// A policy sets values no HTTP header can hold.
	policy := func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		if err := ss.SetHeader(metadata.Pairs("location", "/a\x01b", "x-good", "fine")); err != nil {
			return err
		}
		ss.SetTrailer(metadata.Pairs("x-bad-trailer", "a\r\nInjected: yes", "x-good-trailer", "ok"))
		return handler(srv, ss)
	}
	gw := gatewaytest.NewGateway(t, gatewaytest.Route(target, "things.v1"), policy)
	rest, err := transcoding.NewREST(func() *transcoding.Routes { return routes }, gw.Dispatcher)
	if err != nil {
		t.Fatal(err)
	}
	gw.Start(t, server.WithHTTPHandler(rest))
	client := newClient()
	t.Cleanup(client.CloseIdleConnections)
	e := &env{base: "http://" + gw.Addr, addr: gw.Addr, client: client}
	for _, te := range []string{"", "trailers"} {
		r := e.do(t, "GET", "/v1/things/t1", "", "TE", te)
		if r.code != 200 {
			t.Fatalf("TE %q: %d %s", te, r.code, r.raw)
		}
		if got := r.header.Get("Grpc-Metadata-X-Good"); got != "fine" {
			t.Errorf("TE %q: Grpc-Metadata-X-Good = %q, want fine", te, got)
		}
		if got := r.header.Get("Grpc-Metadata-X-Utf8"); got != "caf\xc3\xa9" {
			t.Errorf("TE %q: Grpc-Metadata-X-Utf8 = %q, want café", te, got)
		}
		if got, ok := r.header["Grpc-Metadata-Location"]; ok {
			t.Errorf("TE %q: Grpc-Metadata-Location = %q, want it dropped", te, got)
		}
		if got, ok := r.header["Injected"]; ok {
			t.Errorf("TE %q: Injected = %q", te, got)
		}
		if te != "" {
			if got := r.header.Get("Grpc-Trailer-X-Good-Trailer"); got != "ok" {
				t.Errorf("Grpc-Trailer-X-Good-Trailer = %q, want ok", got)
			}
			if got, ok := r.header["Grpc-Trailer-X-Bad-Trailer"]; ok {
				t.Errorf("Grpc-Trailer-X-Bad-Trailer = %q, want it dropped", got)
			}
		}
	}
}

// TestUnauthenticatedChallenge: an upstream's UNAUTHENTICATED answer
// carries WWW-Authenticate with the status message, as grpc-gateway's;
// one the upstream set itself is kept.
func TestUnauthenticatedChallenge(t *testing.T) {
	u := &recordingUpstream{before: func(ss grpc.ServerStream) error {
		if md, _ := metadata.FromIncomingContext(ss.Context()); len(md.Get("x-own-challenge")) > 0 {
			if err := ss.SetHeader(metadata.Pairs("www-authenticate", `Bearer realm="things"`)); err != nil {
				return err
			}
		}
		return status.Error(codes.Unauthenticated, "token expired")
	}}
	e := thingsEnv(t, u, thingsSnapshot(t, defaultThingRules), transcoding.WithIncomingHeaders("x-own-challenge"))
	r := e.do(t, "GET", "/v1/things/t1", "")
	if r.code != 401 || r.header.Get("WWW-Authenticate") != "token expired" {
		t.Errorf("got %d, WWW-Authenticate %q; want 401, %q", r.code, r.header.Get("WWW-Authenticate"), "token expired")
	}
	r = e.do(t, "GET", "/v1/things/t1", "", "X-Own-Challenge", "1")
	if got := r.header.Values("WWW-Authenticate"); r.code != 401 || len(got) != 1 || got[0] != `Bearer realm="things"` {
		t.Errorf("got %d, WWW-Authenticate %q; want 401, the upstream's", r.code, got)
	}
}

// TestPatchEmptyBodyEmptyMask: a PATCH whose body sets no field ({} or
// nothing) and has no update_mask sends an empty mask, not one empty path.
func TestPatchEmptyBodyEmptyMask(t *testing.T) {
	u := &recordingUpstream{}
	snap := thingsSnapshot(t, defaultThingRules)
	thing := thingDescriptor(t, snap, "things.v1.Thing")
	e := thingsEnv(t, u, snap)
	for body, want := range map[string]int{`{}`: 0, ` { } `: 0, `{"kind":1}`: 1} {
		r := e.do(t, "PATCH", "/v1/things/t3/child", body)
		if r.code != 200 {
			t.Fatalf("%s: %d %s", body, r.code, r.raw)
		}
		m := dynamicpb.NewMessage(thing)
		if err := proto.Unmarshal(u.request(), m); err != nil {
			t.Fatal(err)
		}
		fm := m.Get(thing.Fields().ByName("update_mask")).Message()
		paths := fm.Get(fm.Descriptor().Fields().ByName("paths")).List()
		if paths.Len() != want {
			var got []string
			for i := range paths.Len() {
				got = append(got, paths.Get(i).String())
			}
			t.Errorf("%s: update_mask.paths = %q, want %d paths", body, got, want)
		}
	}
}

// TestRequestHeaderNotGRPCValue: a request header whose value gRPC
// metadata cannot carry (UTF-8, which HTTP allows) is not passed on, and
// the call is answered (it failed as INTERNAL, 500, when the upstream
// call refused the metadata); the drop is logged once per key.
func TestRequestHeaderNotGRPCValue(t *testing.T) {
	var mu sync.Mutex
	var seen []metadata.MD
	u := &recordingUpstream{before: func(ss grpc.ServerStream) error {
		md, _ := metadata.FromIncomingContext(ss.Context())
		mu.Lock()
		seen = append(seen, md)
		mu.Unlock()
		return nil
	}}
	logs := &recorder{}
	e := thingsEnv(t, u, thingsSnapshot(t, defaultThingRules), transcoding.WithLogger(slog.New(logs)))
	for range 2 {
		r := e.do(t, "GET", "/v1/things/t1", "", "Grpc-Metadata-Location", "/caf\xc3\xa9", "Grpc-Metadata-X-Ok", "fine")
		if r.code != 200 {
			t.Fatalf("%d %s", r.code, r.raw)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for _, md := range seen {
		if len(md.Get("location")) != 0 || len(md.Get("x-ok")) != 1 {
			t.Errorf("upstream metadata %v, want x-ok and no location", md)
		}
	}
	n := 0
	for _, rec := range logs.all() {
		if rec["key"] == "location" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d warnings about location, want 1: %v", n, logs.all())
	}
}
