package gatewaytest

import (
	"context"
	"errors"
	"io"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// Dial returns a grpc-go client of addr over plaintext HTTP/2, with opts
// after the transport credentials, closed at cleanup.
func Dial(t testing.TB, addr string, opts ...grpc.DialOption) *grpc.ClientConn {
	t.Helper()
	cc, err := grpc.NewClient(addr, append([]grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cc.Close() })
	return cc
}

// Call sends msg as the one google.protobuf.StringValue request of a call
// of method and returns the first answer and the response header. The call
// is made on a stream open both ways, so it suits any method of an
// upstream that does not know the method's real shape, such as Echo.
func Call(ctx context.Context, cc grpc.ClientConnInterface, method, msg string) (string, metadata.MD, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var header metadata.MD
	s, err := cc.NewStream(ctx, &grpc.StreamDesc{ServerStreams: true, ClientStreams: true}, method, grpc.Header(&header))
	if err != nil {
		return "", header, err
	}
	if err := s.SendMsg(wrapperspb.String(msg)); err != nil && !errors.Is(err, io.EOF) {
		return "", header, err
	}
	if err := s.CloseSend(); err != nil {
		return "", header, err
	}
	out := new(wrapperspb.StringValue)
	if err := s.RecvMsg(out); err != nil {
		return "", header, err
	}
	return out.GetValue(), header, nil
}
