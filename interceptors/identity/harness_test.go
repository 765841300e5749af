package identity_test

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/sluice-dev/sluice/server"
)

// upstream is an echo server for any method: it answers each StringValue
// with the same value, after sleeping when the value is "sleep:DURATION".
// It records the metadata and remaining deadline of each call.
type upstream struct {
	addr string

	mu        sync.Mutex
	incoming  []metadata.MD
	deadlines []time.Duration // -1 when the call had none
}

func (u *upstream) handle(_ any, ss grpc.ServerStream) error {
	ctx := ss.Context()
	md, _ := metadata.FromIncomingContext(ctx)
	d := time.Duration(-1)
	if dl, ok := ctx.Deadline(); ok {
		d = time.Until(dl)
	}
	u.mu.Lock()
	u.incoming = append(u.incoming, md)
	u.deadlines = append(u.deadlines, d)
	u.mu.Unlock()
	for {
		in := new(wrapperspb.StringValue)
		if err := ss.RecvMsg(in); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		if s, ok := strings.CutPrefix(in.GetValue(), "sleep:"); ok {
			dur, _ := time.ParseDuration(s)
			select {
			case <-time.After(dur):
			case <-ctx.Done():
				return status.FromContextError(ctx.Err()).Err()
			}
		}
		if err := ss.SendMsg(in); err != nil {
			return err
		}
	}
}

// last returns the metadata and deadline of the latest call.
func (u *upstream) last() (metadata.MD, time.Duration) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.incoming) == 0 {
		return nil, 0
	}
	return u.incoming[len(u.incoming)-1], u.deadlines[len(u.deadlines)-1]
}

func startUpstream(t testing.TB) *upstream {
	t.Helper()
	u := &upstream{}
	srv := grpc.NewServer(grpc.UnknownServiceHandler(u.handle))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u.addr = ln.Addr().String()
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Stop(); <-done })
	return u
}

// startGateway runs a gateway routing every method to up through chain
// and returns a client connection to it.
func startGateway(t testing.TB, up *upstream, chain ...grpc.StreamServerInterceptor) *grpc.ClientConn {
	t.Helper()
	ups, err := server.NewUpstreams([]server.Upstream{{Target: up.addr, Methods: []string{"*"}}}, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	d, err := server.NewDispatcher(server.NewProxy(ups), chain...)
	if err != nil {
		t.Fatal(err)
	}
	gw, err := server.NewGateway(d)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := gw.Start(ln); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = gw.Shutdown(ctx)
		_ = ups.Close()
	})
	cc, err := grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cc.Close() })
	return cc
}

// call makes one request-response call of method with msg and returns the
// answer, the response header and the error.
func call(ctx context.Context, cc *grpc.ClientConn, method, msg string) (string, metadata.MD, error) {
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

// checkLeaks verifies, after every other cleanup, that the test left no
// goroutine behind. Call it first.
func checkLeaks(t *testing.T) {
	t.Helper()
	t.Cleanup(func() { goleak.VerifyNone(t) })
}
