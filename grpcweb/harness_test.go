package grpcweb_test

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"io"
	"net/http"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/sluice-dev/sluice/grpcweb"
	"github.com/sluice-dev/sluice/internal/gatewaytest"
	"github.com/sluice-dev/sluice/server"
)

// echoContracts describe gatewaytest's echo upstream: test.Echo with a
// method of each kind, google.protobuf.StringValue both ways.
type echoContracts struct {
	methods map[string]protoreflect.MethodDescriptor
	types   *protoregistry.Types
}

func (c *echoContracts) Method(path string) (protoreflect.MethodDescriptor, bool) {
	m, ok := c.methods[path]
	return m, ok
}

func (c *echoContracts) Types() *protoregistry.Types { return c.types }

func newEchoContracts(t testing.TB) *echoContracts {
	t.Helper()
	sv := "google.protobuf.StringValue"
	method := func(name string, cs, ss bool) *descriptorpb.MethodDescriptorProto {
		return &descriptorpb.MethodDescriptorProto{Name: proto.String(name), InputType: proto.String("." + sv), OutputType: proto.String("." + sv),
			ClientStreaming: proto.Bool(cs), ServerStreaming: proto.Bool(ss)}
	}
	fdp := &descriptorpb.FileDescriptorProto{
		Name: proto.String("test/echo.proto"), Package: proto.String("test"), Syntax: proto.String("proto3"),
		Dependency: []string{"google/protobuf/wrappers.proto"},
		Service: []*descriptorpb.ServiceDescriptorProto{{Name: proto.String("Echo"), Method: []*descriptorpb.MethodDescriptorProto{
			method("Unary", false, false), method("ServerStream", false, true), method("ClientStream", true, false), method("Bidi", true, true),
		}}},
	}
	fd, err := protodesc.NewFile(fdp, protoregistry.GlobalFiles)
	if err != nil {
		t.Fatal(err)
	}
	c := &echoContracts{methods: map[string]protoreflect.MethodDescriptor{}, types: new(protoregistry.Types)}
	ms := fd.Services().Get(0).Methods()
	for i := range ms.Len() {
		c.methods["/test.Echo/"+string(ms.Get(i).Name())] = ms.Get(i)
	}
	_ = c.types.RegisterMessage((&wrapperspb.StringValue{}).ProtoReflect().Type())
	return c
}

// startWeb runs the echo upstream and a gateway whose HTTP handler is a
// gRPC-Web Handler over it (REST behind it answers 404), on loopback.
func startWeb(t *testing.T, opts ...grpcweb.Option) (*gatewaytest.Echo, string) {
	t.Helper()
	up := gatewaytest.StartEcho(t)
	contracts := newEchoContracts(t)
	kinds := func(method string) (bool, bool, bool) {
		m, ok := contracts.methods[method]
		if !ok {
			return false, false, false
		}
		return m.IsStreamingClient(), m.IsStreamingServer(), true
	}
	gw := gatewaytest.NewGatewayWithProxy(t, gatewaytest.Route(up.Addr, "test.Echo"), []server.ProxyOption{server.WithMethodKinds(kinds)})
	h, err := grpcweb.NewHandler(gw.Dispatcher, func() grpcweb.Contracts { return contracts }, nil, opts...)
	if err != nil {
		t.Fatal(err)
	}
	gw.Start(t, server.WithHTTPHandler(h))
	return up, gw.Addr
}

// frameMsg is one length-prefixed message of a gRPC-Web body.
func frameMsg(flags byte, payload []byte) []byte {
	out := []byte{flags, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(out[1:], uint32(len(payload)))
	return append(out, payload...)
}

// str is the wire form of a StringValue.
func str(t testing.TB, v string) []byte {
	b, err := proto.Marshal(wrapperspb.String(v))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// webResponse is a parsed gRPC-Web response: its messages and its
// trailers (from the trailer frame, or the headers when trailers-only).
type webResponse struct {
	httpStatus   int
	header       http.Header
	messages     [][]byte
	trailers     http.Header
	trailersOnly bool
}

func (r *webResponse) status() string { return r.trailers.Get("Grpc-Status") }

// parseResponse reads a gRPC-Web response body as the protocol lays it
// out (decoding grpc-web-text chunk by chunk, each padded).
func parseResponse(t testing.TB, resp *http.Response) *webResponse {
	t.Helper()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read response: %v", err)
	}
	out := &webResponse{httpStatus: resp.StatusCode, header: resp.Header, trailers: http.Header{}}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/grpc-web-text") {
		body = decodeChunks(t, body)
	}
	if len(body) == 0 {
		out.trailersOnly = true
		for k, v := range resp.Header {
			out.trailers[k] = v
		}
		return out
	}
	for len(body) > 0 {
		if len(body) < 5 {
			t.Fatalf("truncated frame prefix: %q", body)
		}
		flags, n := body[0], binary.BigEndian.Uint32(body[1:5])
		if uint64(n) > uint64(len(body)-5) {
			t.Fatalf("frame of %d bytes in a body of %d: %q", n, len(body), body[:min(len(body), 64)])
		}
		payload := body[5 : 5+n]
		body = body[5+n:]
		if flags&0x80 != 0 {
			for _, line := range strings.Split(string(payload), "\r\n") {
				if k, v, ok := strings.Cut(line, ": "); ok {
					out.trailers.Add(k, v)
				}
			}
			continue
		}
		out.messages = append(out.messages, payload)
	}
	return out
}

// decodeChunks decodes base64 written as padded pieces one after another.
func decodeChunks(t testing.TB, text []byte) []byte {
	var out []byte
	for len(text) > 0 {
		end := bytes.IndexByte(text, '=')
		if end < 0 {
			end = len(text)
		} else {
			for end < len(text) && text[end] == '=' {
				end++
			}
		}
		b, err := base64.StdEncoding.DecodeString(string(text[:end]))
		if err != nil {
			t.Fatalf("response chunk %q is not base64: %v", text[:end], err)
		}
		out = append(out, b...)
		text = text[end:]
	}
	return out
}

// h1Client is an HTTP/1.1 client; h2cClient speaks HTTP/2 without TLS.
func h1Client() *http.Client { return &http.Client{Transport: &http.Transport{}} }

func h2cClient() *http.Client {
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	return &http.Client{Transport: &http.Transport{Protocols: &p}}
}

// post sends a gRPC-Web call.
func post(t testing.TB, c *http.Client, addr, method, contentType string, body io.Reader, header http.Header) *webResponse {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, "http://"+addr+method, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", contentType)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s: %v", method, err)
	}
	defer resp.Body.Close()
	return parseResponse(t, resp)
}
