package e2e_test

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"testing"

	errdetails "google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/sluice-dev/sluice/internal/gatewaytest"
)

// gwUpstream is a generic upstream for any method whose service is linked
// into the test binary (grpc-gateway's example protos, gen/gwexamples): it
// decodes each request with dynamicpb by the method's descriptor, records
// it, and answers deterministically from it, so two gwUpstreams given the
// same requests answer the same. It is what both gateways of the
// differential test stand in front of; comparing what each one recorded is
// the strongest check that both bound a REST request to the same message.
//
// Answers: the request itself when the response type is the request type;
// otherwise a message of the response type filled from the request by field
// name (fields of the same name and type are copied, message fields with no
// counterpart are filled the same way one level down), so response_body
// selections have something to select. A google.api.HttpBody answer carries
// text naming the method and the chunk. Server streams send
// x-gw-count (default 3) messages; bidirectional streams answer each
// message; client streams answer once, from the last message.
//
// Request metadata scripts failures: x-gw-fail "CODE:message" ends the call
// with that code (by name, as UNAUTHENTICATED), an ErrorInfo detail (reason
// SCRIPTED) and, for streams, after x-gw-fail-after messages (default 0).
// Every call sends the response header x-gw-method (the method's name) and
// the trailer x-gw-trailer, and echoes x-gw-echo as a header when present.
//
// Its methods are safe for concurrent use.
type gwUpstream struct {
	addr string

	mu    sync.Mutex
	calls []gwCall
}

// gwCall is one call a gwUpstream received: its full method name, its
// x-gw-case metadata (the test case that made it), and the request messages
// in the order they arrived.
type gwCall struct {
	method string
	tag    string
	reqs   []proto.Message
}

// startGWUpstream runs a gwUpstream on a loopback port until the test ends.
func startGWUpstream(tb testing.TB) *gwUpstream {
	tb.Helper()
	u := &gwUpstream{}
	u.addr = gatewaytest.StartUpstream(tb, u.handle)
	return u
}

// callsTagged returns the calls whose x-gw-case was tag, in the order they
// started, with their request lists copied. Tagging, rather than counting
// calls, keeps a call that arrives late (one a gateway started and then
// cancelled) out of the next case's.
func (u *gwUpstream) callsTagged(tag string) []gwCall {
	u.mu.Lock()
	defer u.mu.Unlock()
	var out []gwCall
	for _, c := range u.calls {
		if c.tag == tag {
			out = append(out, gwCall{method: c.method, tag: c.tag, reqs: append([]proto.Message(nil), c.reqs...)})
		}
	}
	return out
}

func (u *gwUpstream) start(method, tag string) int {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.calls = append(u.calls, gwCall{method: method, tag: tag})
	return len(u.calls) - 1
}

func (u *gwUpstream) record(i int, m proto.Message) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.calls[i].reqs = append(u.calls[i].reqs, m)
}

// lookupMethod finds a method descriptor by its gRPC name
// ("/pkg.Service/Method") among the linked files.
func lookupMethod(full string) (protoreflect.MethodDescriptor, error) {
	svc, name, ok := strings.Cut(strings.TrimPrefix(full, "/"), "/")
	if !ok {
		return nil, status.Errorf(codes.Unimplemented, "malformed method %q", full)
	}
	d, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(svc))
	if err != nil {
		return nil, status.Errorf(codes.Unimplemented, "unknown service %s", svc)
	}
	sd, ok := d.(protoreflect.ServiceDescriptor)
	if !ok {
		return nil, status.Errorf(codes.Unimplemented, "%s is not a service", svc)
	}
	md := sd.Methods().ByName(protoreflect.Name(name))
	if md == nil {
		return nil, status.Errorf(codes.Unimplemented, "unknown method %s", full)
	}
	return md, nil
}

// script is what a call's metadata asks of the upstream.
type script struct {
	fail      error // nil: succeed
	failAfter int   // messages sent before fail
	count     int   // messages of a server stream
}

func readScript(md metadata.MD) (script, error) {
	s := script{count: 3}
	if v := md.Get("x-gw-fail"); len(v) > 0 {
		name, msg, _ := strings.Cut(v[0], ":")
		var code codes.Code
		if err := code.UnmarshalJSON([]byte(strconv.Quote(name))); err != nil {
			return s, status.Errorf(codes.InvalidArgument, "x-gw-fail: %v", err)
		}
		st, err := status.New(code, msg).WithDetails(&errdetails.ErrorInfo{Reason: "SCRIPTED", Domain: "gwexamples.test.sluice.dev"})
		if err != nil {
			return s, status.Errorf(codes.Internal, "x-gw-fail details: %v", err)
		}
		s.fail = st.Err()
	}
	for key, dst := range map[string]*int{"x-gw-fail-after": &s.failAfter, "x-gw-count": &s.count} {
		if v := md.Get(key); len(v) > 0 {
			n, err := strconv.Atoi(v[0])
			if err != nil {
				return s, status.Errorf(codes.InvalidArgument, "%s: %v", key, err)
			}
			*dst = n
		}
	}
	return s, nil
}

func (u *gwUpstream) handle(_ any, ss grpc.ServerStream) error {
	full, _ := grpc.MethodFromServerStream(ss)
	md, err := lookupMethod(full)
	if err != nil {
		return err
	}
	in, _ := metadata.FromIncomingContext(ss.Context())
	sc, err := readScript(in)
	if err != nil {
		return err
	}
	tag := ""
	if v := in.Get("x-gw-case"); len(v) > 0 {
		tag = v[0]
	}
	call := u.start(full, tag)
	hdr := metadata.Pairs("x-gw-method", string(md.Name()))
	if v := in.Get("x-gw-echo"); len(v) > 0 {
		hdr.Set("x-gw-echo", v...)
	}
	if err := ss.SendHeader(hdr); err != nil {
		return err
	}
	ss.SetTrailer(metadata.Pairs("x-gw-trailer", string(md.Name())))

	recv := func() (proto.Message, error) {
		m := dynamicpb.NewMessage(md.Input())
		if err := ss.RecvMsg(m); err != nil {
			return nil, err
		}
		u.record(call, m)
		return m, nil
	}
	sent := 0
	send := func(m proto.Message) error {
		if sc.fail != nil && sent >= sc.failAfter {
			return sc.fail
		}
		sent++
		return ss.SendMsg(m)
	}

	switch {
	case md.IsStreamingClient() && md.IsStreamingServer():
		for {
			m, err := recv()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return err
			}
			if err := send(derive(md.Output(), m, string(md.Name()), sent)); err != nil {
				return err
			}
		}
	case md.IsStreamingClient():
		last := proto.Message(dynamicpb.NewMessage(md.Input()))
		for {
			m, err := recv()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return err
			}
			last = m
		}
		if err := send(derive(md.Output(), last, string(md.Name()), 0)); err != nil {
			return err
		}
	default:
		m, err := recv()
		if err != nil {
			return err
		}
		n := 1
		if md.IsStreamingServer() {
			n = sc.count
		}
		for i := range n {
			if err := send(derive(md.Output(), m, string(md.Name()), i)); err != nil {
				return err
			}
		}
	}
	if sc.fail != nil {
		return sc.fail
	}
	return nil
}

const httpBodyName = "google.api.HttpBody"

// derive returns the answer of type out to the request in, the i-th of a
// stream (see gwUpstream).
func derive(out protoreflect.MessageDescriptor, in proto.Message, method string, i int) proto.Message {
	if out.FullName() == in.ProtoReflect().Descriptor().FullName() {
		return in
	}
	m := dynamicpb.NewMessage(out)
	if out.FullName() == httpBodyName {
		m.Set(out.Fields().ByName("content_type"), protoreflect.ValueOfString("text/plain"))
		m.Set(out.Fields().ByName("data"), protoreflect.ValueOfBytes(fmt.Appendf(nil, "%s chunk %d\n", method, i)))
		return m
	}
	fill(m, in.ProtoReflect(), 2)
	return m
}

// fill copies into dst the fields of src with the same name and type, and
// fills dst's message fields that have no counterpart from src itself, down
// to depth levels.
func fill(dst protoreflect.Message, src protoreflect.Message, depth int) {
	sf := src.Descriptor().Fields()
	df := dst.Descriptor().Fields()
	for i := range df.Len() {
		d := df.Get(i)
		if d.ContainingOneof() != nil && dst.WhichOneof(d.ContainingOneof()) != nil {
			continue
		}
		s := sf.ByName(d.Name())
		if s != nil && sameType(d, s) {
			if src.Has(s) {
				dst.Set(d, src.Get(s))
			}
			continue
		}
		// Well-known types are left alone: an empty google.protobuf.Value,
		// for one, has no JSON form.
		if d.Kind() != protoreflect.MessageKind || d.IsMap() || depth == 0 ||
			d.Message().FullName() == src.Descriptor().FullName() || d.Message().ParentFile().Package() == "google.protobuf" {
			continue
		}
		if d.IsList() {
			l := dst.Mutable(d).List()
			e := l.NewElement()
			fill(e.Message(), src, depth-1)
			l.Append(e)
			continue
		}
		fill(dst.Mutable(d).Message(), src, depth-1)
	}
}

func sameType(a, b protoreflect.FieldDescriptor) bool {
	if a.Kind() != b.Kind() || a.Cardinality() != b.Cardinality() || a.IsMap() != b.IsMap() {
		return false
	}
	switch a.Kind() {
	case protoreflect.MessageKind, protoreflect.GroupKind:
		return a.Message().FullName() == b.Message().FullName()
	case protoreflect.EnumKind:
		return a.Enum().FullName() == b.Enum().FullName()
	}
	return true
}
