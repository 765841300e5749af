package gatewaytest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	errdetails "google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// Echo is a scripted upstream for any method, exchanging
// google.protobuf.StringValue messages, that records what each call
// arrived with. Every message is echoed, unless it is one of:
//
//	"fail:CODE"  ends the call with that code and an ErrorInfo detail
//	             (reason SCRIPTED, domain test.sluice.dev);
//	"sleep:D"    waits for the duration D (or the end of the call) first;
//	"count:N"    in a method named .../ServerStream, sends N messages
//	             "msg-0".."msg-N-1" instead.
//
// A method named .../ClientStream answers once, after the last request,
// with the requests joined by commas. The response header is "x-echo"
// with the value of the request header x-echo (also echoed as the trailer
// "x-echo-t"), or else "x-upstream: echo"; it is sent before any message,
// so that errors arrive in trailers after a header, except when the
// request has the header x-no-header, which makes errors trailers-only.
//
// Its methods are safe for concurrent use.
type Echo struct {
	// Addr is the host:port the upstream listens on.
	Addr string

	mu    sync.Mutex
	calls []Incoming
	ended []error
}

// Incoming is what a call to an Echo arrived with.
type Incoming struct {
	// Metadata is the request metadata.
	Metadata metadata.MD
	// Deadline is the time left until the call's deadline when it started,
	// or -1 when it had none.
	Deadline time.Duration
}

// StartEcho runs an Echo on a loopback port until the test ends.
func StartEcho(t testing.TB) *Echo {
	t.Helper()
	e := &Echo{}
	e.Addr = StartUpstream(t, e.handle)
	return e
}

// Calls returns what each call so far arrived with, in the order they
// started.
func (e *Echo) Calls() []Incoming {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]Incoming(nil), e.calls...)
}

// Last returns what the call that started last arrived with, or the zero
// Incoming (no metadata, no time left) when there was none.
func (e *Echo) Last() Incoming {
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.calls) == 0 {
		return Incoming{}
	}
	return e.calls[len(e.calls)-1]
}

// Ended returns, for each call that has ended, in the order they ended,
// the error of its context at that moment: nil when the call ended on its
// own, Canceled or DeadlineExceeded when its context ended it.
func (e *Echo) Ended() []error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]error(nil), e.ended...)
}

func (e *Echo) record(ctx context.Context) {
	md, _ := metadata.FromIncomingContext(ctx)
	d := time.Duration(-1)
	if dl, ok := ctx.Deadline(); ok {
		d = time.Until(dl)
	}
	e.mu.Lock()
	e.calls = append(e.calls, Incoming{Metadata: md, Deadline: d})
	e.mu.Unlock()
}

func (e *Echo) handle(_ any, ss grpc.ServerStream) error {
	ctx := ss.Context()
	e.record(ctx)
	defer func() {
		e.mu.Lock()
		e.ended = append(e.ended, ctx.Err())
		e.mu.Unlock()
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
	clientStream := strings.HasSuffix(method, "/ClientStream")
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
			for i := range count {
				if err := ss.SendMsg(wrapperspb.String(fmt.Sprintf("msg-%d", i))); err != nil {
					return err
				}
			}
			continue
		}
		if clientStream {
			got = append(got, v)
		} else if err := ss.SendMsg(wrapperspb.String(v)); err != nil {
			return err
		}
	}
	if clientStream {
		return ss.SendMsg(wrapperspb.String(strings.Join(got, ",")))
	}
	return nil
}
