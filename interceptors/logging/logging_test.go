package logging_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/sluice-dev/sluice/interceptors/logging"
	"github.com/sluice-dev/sluice/protocol"
)

// fakeStream is a grpc.ServerStream that yields one request and accepts
// responses, enough to drive an interceptor without a network.
type fakeStream struct {
	ctx  context.Context
	reqs []*wrapperspb.StringValue
}

func (f *fakeStream) SetHeader(metadata.MD) error  { return nil }
func (f *fakeStream) SendHeader(metadata.MD) error { return nil }
func (f *fakeStream) SetTrailer(metadata.MD)       {}
func (f *fakeStream) Context() context.Context     { return f.ctx }
func (f *fakeStream) SendMsg(any) error            { return nil }
func (f *fakeStream) RecvMsg(m any) error {
	if len(f.reqs) == 0 {
		return errors.New("EOF")
	}
	m.(*wrapperspb.StringValue).Value = f.reqs[0].GetValue()
	f.reqs = f.reqs[1:]
	return nil
}

func TestOneLinePerCall(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&buf, nil))
	clock := time.Unix(0, 0)
	in := logging.StreamServerInterceptor(logger, logging.WithClock(func() time.Time {
		clock = clock.Add(250 * time.Millisecond)
		return clock
	}))

	ctx := peer.NewContext(context.Background(), &peer.Peer{Addr: &net.TCPAddr{IP: net.IPv4(10, 1, 2, 3), Port: 4567}})
	ctx = protocol.NewContext(ctx, protocol.REST)
	ss := &fakeStream{ctx: ctx, reqs: []*wrapperspb.StringValue{wrapperspb.String("hello")}}
	handler := func(_ any, s grpc.ServerStream) error {
		m := new(wrapperspb.StringValue)
		if err := s.RecvMsg(m); err != nil {
			return err
		}
		if err := s.SendMsg(wrapperspb.String("a longer answer")); err != nil {
			return err
		}
		return status.Error(codes.NotFound, "no such book")
	}
	err := in(nil, ss, &grpc.StreamServerInfo{FullMethod: "/lib.v1.Library/GetBook"}, handler)
	if status.Code(err) != codes.NotFound {
		t.Fatalf("interceptor changed the result: %v", err)
	}

	var line map[string]any
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatalf("not one JSON line: %q", buf.String())
	}
	want := map[string]any{
		"msg": "call", "level": "INFO", "method": "/lib.v1.Library/GetBook", "protocol": "rest",
		"peer": "10.1.2.3:4567", "code": "NotFound", "error": "no such book",
		"duration": float64(250 * time.Millisecond), "msgs_in": float64(1), "msgs_out": float64(1),
		"bytes_in": float64(7), "bytes_out": float64(17),
	}
	for k, v := range want {
		if line[k] != v {
			t.Errorf("%s = %v (%T), want %v", k, line[k], line[k], v)
		}
	}
}

func TestServerFailuresAreWarnings(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	in := logging.StreamServerInterceptor(slog.New(slog.NewJSONHandler(&buf, nil)))
	ss := &fakeStream{ctx: context.Background()}
	_ = in(nil, ss, &grpc.StreamServerInfo{FullMethod: "/a.B/C"}, func(any, grpc.ServerStream) error {
		return status.Error(codes.Unavailable, "upstream down")
	})
	var line map[string]any
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatal(err)
	}
	if line["level"] != "WARN" || line["protocol"] != "grpc" {
		t.Errorf("line = %v, want level WARN and protocol grpc", line)
	}
}

func TestDisabledLevelWritesNothing(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelWarn}))
	in := logging.StreamServerInterceptor(logger)
	ss := &fakeStream{ctx: context.Background()}
	ok := func(any, grpc.ServerStream) error { return nil }
	if err := in(nil, ss, &grpc.StreamServerInfo{FullMethod: "/a.B/C"}, ok); err != nil {
		t.Fatal(err)
	}
	if buf.Len() != 0 {
		t.Errorf("an OK call logged at INFO under a WARN logger: %s", buf.String())
	}
	fail := func(any, grpc.ServerStream) error { return status.Error(codes.Internal, "boom") }
	_ = in(nil, ss, &grpc.StreamServerInfo{FullMethod: "/a.B/C"}, fail)
	if !bytes.Contains(buf.Bytes(), []byte(`"code":"Internal"`)) {
		t.Errorf("a failed call was not logged at WARN: %q", buf.String())
	}
}
