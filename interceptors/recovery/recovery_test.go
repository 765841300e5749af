package recovery_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/sluice-dev/sluice/interceptors/recovery"
)

type ctxStream struct{ grpc.ServerStream }

func (ctxStream) Context() context.Context { return context.Background() }

func TestPanicBecomesInternal(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&buf, nil))

	stream := recovery.StreamServerInterceptor(recovery.WithLogger(logger))
	err := stream(nil, ctxStream{}, &grpc.StreamServerInfo{FullMethod: "/a.B/Stream"}, func(any, grpc.ServerStream) error {
		panic("secret detail")
	})
	if st := status.Convert(err); st.Code() != codes.Internal || strings.Contains(st.Message(), "secret") {
		t.Errorf("stream panic: %v, want INTERNAL without the panic value", err)
	}

	unary := recovery.UnaryServerInterceptor(recovery.WithLogger(logger))
	resp, err := unary(context.Background(), nil, &grpc.UnaryServerInfo{FullMethod: "/a.B/Unary"}, func(context.Context, any) (any, error) {
		books := []string{"moby-dick"}
		return books[len(books)+2-1], nil // a runtime panic, not just a panic call
	})
	if resp != nil || status.Code(err) != codes.Internal {
		t.Errorf("unary panic: %v, %v; want nil, INTERNAL", resp, err)
	}

	log := buf.String()
	for _, want := range []string{"/a.B/Stream", "secret detail", "/a.B/Unary", "index out of range", "recovery_test.go"} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q (method, panic value and stack go to the log):\n%s", want, log)
		}
	}

	// Calls that do not panic pass through untouched.
	want := status.Error(codes.NotFound, "nope")
	if err := stream(nil, ctxStream{}, &grpc.StreamServerInfo{}, func(any, grpc.ServerStream) error { return want }); err != want {
		t.Errorf("passthrough = %v, want %v", err, want)
	}
}
