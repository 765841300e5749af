package server_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	errdetails "google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/sluice-dev/sluice/interceptors/recovery"
	"github.com/sluice-dev/sluice/server"
)

// echoUpstream is a scripted upstream serving any method under "test.Echo"
// with StringValue messages. What it saw is recorded for the test.
type echoUpstream struct {
	addr string
	srv  *grpc.Server

	mu       sync.Mutex
	ended    []error         // ctx.Err() of each call when it ended
	incoming []metadata.MD   // request metadata of each call
	deadline []time.Duration // remaining deadline at call start, -1 if none
}

func (u *echoUpstream) record(ctx context.Context) {
	md, _ := metadata.FromIncomingContext(ctx)
	d := time.Duration(-1)
	if dl, ok := ctx.Deadline(); ok {
		d = time.Until(dl)
	}
	u.mu.Lock()
	u.incoming = append(u.incoming, md)
	u.deadline = append(u.deadline, d)
	u.mu.Unlock()
}

func (u *echoUpstream) lastIncoming() metadata.MD {
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.incoming) == 0 {
		return nil
	}
	return u.incoming[len(u.incoming)-1]
}

func (u *echoUpstream) lastDeadline() time.Duration {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.deadline[len(u.deadline)-1]
}

func (u *echoUpstream) endedErrs() []error {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]error(nil), u.ended...)
}

// handle implements the methods of test.Echo:
//
//	Unary, ClientStream, ServerStream, Bidi: echo what they get.
//	A message "fail:CODE" ends the call with that code and an ErrorInfo
//	detail; "count:N" (ServerStream) sends N messages; "sleep:D" sleeps.
//	The header x-echo is echoed as header "x-echo" and trailer "x-echo-t".
//	A header "x-no-header: 1" makes errors trailers-only.
func (u *echoUpstream) handle(_ any, ss grpc.ServerStream) (err error) {
	ctx := ss.Context()
	u.record(ctx)
	defer func() {
		u.mu.Lock()
		u.ended = append(u.ended, ctx.Err())
		u.mu.Unlock()
	}()
	method, _ := grpc.MethodFromServerStream(ss)
	md, _ := metadata.FromIncomingContext(ctx)
	if v := md.Get("x-echo"); len(v) > 0 {
		ss.SetTrailer(metadata.Pairs("x-echo-t", v[0]))
		if len(md.Get("x-no-header")) == 0 {
			if err := ss.SendHeader(metadata.Pairs("x-echo", v[0])); err != nil {
				return err
			}
		}
	} else if len(md.Get("x-no-header")) == 0 {
		if err := ss.SendHeader(metadata.Pairs("x-upstream", "echo")); err != nil {
			return err
		}
	}
	var got []string
	for {
		in := new(wrapperspb.StringValue)
		if err := ss.RecvMsg(in); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return err
		}
		v := in.GetValue()
		if code, ok := strings.CutPrefix(v, "fail:"); ok {
			n, _ := strconv.Atoi(code)
			st, _ := status.New(codes.Code(n), "scripted failure").WithDetails(&errdetails.ErrorInfo{Reason: "SCRIPTED", Domain: "test.sluice.dev"})
			return st.Err()
		}
		if d, ok := strings.CutPrefix(v, "sleep:"); ok {
			dur, _ := time.ParseDuration(d)
			select {
			case <-time.After(dur):
			case <-ctx.Done():
				return status.FromContextError(ctx.Err()).Err()
			}
		}
		if n, ok := strings.CutPrefix(v, "count:"); ok && strings.HasSuffix(method, "/ServerStream") {
			count, _ := strconv.Atoi(n)
			for i := 0; i < count; i++ {
				if err := ss.SendMsg(wrapperspb.String(fmt.Sprintf("msg-%d", i))); err != nil {
					return err
				}
			}
			continue
		}
		switch {
		case strings.HasSuffix(method, "/ClientStream"):
			got = append(got, v)
		default:
			if err := ss.SendMsg(wrapperspb.String(v)); err != nil {
				return err
			}
		}
	}
	if strings.HasSuffix(method, "/ClientStream") {
		return ss.SendMsg(wrapperspb.String(strings.Join(got, ",")))
	}
	return nil
}

func startEcho(t testing.TB) *echoUpstream {
	t.Helper()
	u := &echoUpstream{}
	u.srv = grpc.NewServer(grpc.UnknownServiceHandler(u.handle))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u.addr = ln.Addr().String()
	done := make(chan struct{})
	go func() { defer close(done); _ = u.srv.Serve(ln) }()
	t.Cleanup(func() { u.srv.Stop(); <-done })
	return u
}

type gatewayHarness struct {
	gw   *server.Gateway
	d    *server.Dispatcher
	addr string
	ups  *server.Upstreams
}

// startGateway runs a gateway in front of the given routes
// (pattern -> target) and closes it when the test ends.
func startGateway(t testing.TB, routes map[string]string, opts ...server.Option) *gatewayHarness {
	t.Helper()
	return startGatewayWithChain(t, routes, nil, opts...)
}

// startGatewayWithChain is startGateway with an interceptor chain.
func startGatewayWithChain(t testing.TB, routes map[string]string, chain []grpc.StreamServerInterceptor, opts ...server.Option) *gatewayHarness {
	t.Helper()
	byTarget := map[string][]string{}
	for p, target := range routes {
		byTarget[target] = append(byTarget[target], p)
	}
	var specs []server.Upstream
	for target, patterns := range byTarget {
		specs = append(specs, server.Upstream{Target: target, Methods: patterns})
	}
	ups, err := server.NewUpstreams(specs, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	d, err := server.NewDispatcher(server.NewProxy(ups), chain...)
	if err != nil {
		t.Fatal(err)
	}
	gw, err := server.NewGateway(d, opts...)
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
	return &gatewayHarness{gw: gw, d: d, addr: ln.Addr().String(), ups: ups}
}

func dial(t testing.TB, addr string, opts ...grpc.DialOption) *grpc.ClientConn {
	t.Helper()
	cc, err := grpc.NewClient(addr, append([]grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cc.Close() })
	return cc
}

var anyStream = &grpc.StreamDesc{ServerStreams: true, ClientStreams: true}

// checkLeaks registers a goroutine leak check that runs after every other
// cleanup of the test. Call it first.
func checkLeaks(t *testing.T) {
	t.Helper()
	t.Cleanup(func() { goleak.VerifyNone(t) })
}

func recoveryInterceptor() grpc.StreamServerInterceptor {
	return recovery.StreamServerInterceptor()
}
