package connectproto_test

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"io"
	"net/http"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/sluice-dev/sluice/connectproto"
	"github.com/sluice-dev/sluice/internal/gatewaytest"
	"github.com/sluice-dev/sluice/registry"
	"github.com/sluice-dev/sluice/server"
)

// TestMain checks that no test leaves a goroutine behind: the servers,
// gateways and clients of every (parallel) test are stopped by then.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// svc is the test contract's service: gatewaytest.Echo's methods, with
// google.protobuf.StringValue in and out.
const svc = "sluice.test.connect.v1.Echo"

// testSnapshot is a contract for the Echo upstream: Unary (no side
// effects, so GET is allowed), Write (unary with side effects),
// ServerStream, ClientStream and Bidi.
func testSnapshot(t testing.TB) *registry.Snapshot {
	t.Helper()
	snap, err := echoContract()
	if err != nil {
		t.Fatal(err)
	}
	return snap
}

// echoContract builds the snapshot testSnapshot returns.
func echoContract() (*registry.Snapshot, error) {
	sv := ".google.protobuf.StringValue"
	method := func(name string, client, server bool, safe bool) *descriptorpb.MethodDescriptorProto {
		m := &descriptorpb.MethodDescriptorProto{
			Name: proto.String(name), InputType: proto.String(sv), OutputType: proto.String(sv),
			ClientStreaming: proto.Bool(client), ServerStreaming: proto.Bool(server),
		}
		if safe {
			m.Options = &descriptorpb.MethodOptions{IdempotencyLevel: descriptorpb.MethodOptions_NO_SIDE_EFFECTS.Enum()}
		}
		return m
	}
	fd := &descriptorpb.FileDescriptorProto{
		Name:       proto.String("sluice/test/connect/v1/echo.proto"),
		Package:    proto.String("sluice.test.connect.v1"),
		Dependency: []string{"google/protobuf/wrappers.proto"},
		Syntax:     proto.String("proto3"),
		Service: []*descriptorpb.ServiceDescriptorProto{{
			Name: proto.String("Echo"),
			Method: []*descriptorpb.MethodDescriptorProto{
				method("Unary", false, false, true),
				method("Write", false, false, false),
				method("ServerStream", false, true, false),
				method("ClientStream", true, false, false),
				method("Bidi", true, true, false),
			},
		}},
	}
	set := &descriptorpb.FileDescriptorSet{File: []*descriptorpb.FileDescriptorProto{
		protodesc.ToFileDescriptorProto(wrapperspb.File_google_protobuf_wrappers_proto), fd,
	}}
	b, err := proto.Marshal(set)
	if err != nil {
		return nil, err
	}
	return registry.Build(registry.DescriptorSet("echo.binpb", b))
}

// harness is a gateway serving Connect in front of an Echo upstream.
type harness struct {
	url  string // http://host:port
	echo *gatewaytest.Echo
	// h1 speaks HTTP/1.1, h2c HTTP/2 without TLS (prior knowledge).
	h1, h2c *http.Client
}

// next marks requests the Connect handler passed on.
const nextHeader = "X-Next-Handler"

func startHarness(t *testing.T, opts []connectproto.Option, chain ...grpc.StreamServerInterceptor) *harness {
	t.Helper()
	echo := gatewaytest.StartEcho(t)
	snap := testSnapshot(t)
	kinds := func(method string) (bool, bool, bool) {
		m, ok := snap.Method(method)
		if !ok {
			return false, false, false
		}
		return m.ClientStreaming(), m.ServerStreaming(), true
	}
	g := gatewaytest.NewGatewayWithProxy(t, gatewaytest.Route(echo.Addr, svc), []server.ProxyOption{server.WithMethodKinds(kinds)}, chain...)
	next := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set(nextHeader, "1")
		w.WriteHeader(http.StatusTeapot)
	})
	h, err := connectproto.NewHandler(g.Dispatcher, func() *registry.Snapshot { return snap }, next, opts...)
	if err != nil {
		t.Fatal(err)
	}
	g.Start(t, server.WithHTTPHandler(h))
	return &harness{url: "http://" + g.Addr, echo: echo, h1: newClient(t, false), h2c: newClient(t, true)}
}

func newClient(t *testing.T, h2c bool) *http.Client {
	tr := &http.Transport{DisableCompression: true}
	if h2c {
		var p http.Protocols
		p.SetUnencryptedHTTP2(true)
		tr.Protocols = &p
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 20 * time.Second}
}

// wire is the proto encoding of a StringValue.
func wire(t testing.TB, s string) []byte {
	t.Helper()
	b, err := proto.Marshal(wrapperspb.String(s))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// envelope frames payload with flags.
func envelope(flags byte, payload []byte) []byte {
	out := make([]byte, 5, 5+len(payload))
	out[0] = flags
	binary.BigEndian.PutUint32(out[1:], uint32(len(payload)))
	return append(out, payload...)
}

// readEnvelopes splits a streaming response body into its messages and
// its end-of-stream JSON.
func readEnvelopes(t testing.TB, body io.Reader) (msgs [][]byte, end []byte) {
	t.Helper()
	for {
		var prefix [5]byte
		if _, err := io.ReadFull(body, prefix[:]); err != nil {
			t.Fatalf("read envelope: %v (messages so far: %d)", err, len(msgs))
		}
		payload := make([]byte, binary.BigEndian.Uint32(prefix[1:]))
		if _, err := io.ReadFull(body, payload); err != nil {
			t.Fatalf("read payload: %v", err)
		}
		if prefix[0]&0x01 != 0 {
			payload = gunzip(t, payload)
		}
		if prefix[0]&0x02 != 0 {
			return msgs, payload
		}
		msgs = append(msgs, payload)
	}
}

func gzipped(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func gunzip(t testing.TB, b []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// stringOf decodes a StringValue.
func stringOf(t testing.TB, b []byte) string {
	t.Helper()
	var v wrapperspb.StringValue
	if err := proto.Unmarshal(b, &v); err != nil {
		t.Fatalf("response is not a StringValue: %v (%q)", err, b)
	}
	return v.GetValue()
}
