package concurrency_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	errdetails "google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/sluice-dev/sluice/interceptors/concurrency"
	"github.com/sluice-dev/sluice/interceptors/ratelimit"
)

// fakeStream is the least a grpc.ServerStream needs to be for an
// interceptor that reads the context and sets header metadata, which it
// records in hdr when that is not nil.
type fakeStream struct {
	grpc.ServerStream
	ctx context.Context
	hdr *metadata.MD
}

func (s fakeStream) Context() context.Context { return s.ctx }

func (s fakeStream) SetHeader(md metadata.MD) error {
	if s.hdr != nil {
		*s.hdr = metadata.Join(*s.hdr, md)
	}
	return nil
}

func withKey(ctx context.Context, key string) context.Context {
	if key == "" {
		return ctx
	}
	return metadata.NewIncomingContext(ctx, metadata.Pairs("x-api-key", key))
}

// call is one call held open inside the interceptor until release is
// closed.
type call struct {
	admitted chan struct{}
	result   chan error
	refused  bool        // outcome already took the result
	header   metadata.MD // set by the interceptor; read once it returned
}

// start runs a call of method with key through intercept and keeps it in
// the handler until release is closed.
func start(ctx context.Context, intercept grpc.StreamServerInterceptor, method, key string, release <-chan struct{}) *call {
	c := &call{admitted: make(chan struct{}), result: make(chan error, 1)}
	go func() {
		c.result <- intercept(nil, fakeStream{ctx: withKey(ctx, key), hdr: &c.header}, &grpc.StreamServerInfo{FullMethod: method, IsServerStream: true},
			func(any, grpc.ServerStream) error {
				close(c.admitted)
				<-release
				return nil
			})
	}()
	return c
}

// outcome waits until c is either admitted (nil) or refused (its error).
func (c *call) outcome(t *testing.T) error {
	t.Helper()
	select {
	case <-c.admitted:
		return nil
	case err := <-c.result:
		if err == nil {
			t.Fatal("call finished without being admitted")
		}
		c.refused = true
		return err
	case <-time.After(5 * time.Second):
		t.Fatal("call neither admitted nor refused")
		return nil
	}
}

// wait returns once c's interceptor has returned.
func (c *call) wait() {
	if !c.refused {
		<-c.result
	}
}

func TestLimits(t *testing.T) {
	t.Parallel()
	const (
		listBooks = "/library.v1.Library/ListBooks"
		getBook   = "/library.v1.Library/GetBook"
		other     = "/search.v1.Search/Query"
	)
	type attempt struct {
		method, key string
		admitted    bool
	}
	tests := []struct {
		name     string
		opts     []concurrency.Option
		attempts []attempt // made in order, each held open
	}{
		{
			name: "global",
			opts: []concurrency.Option{concurrency.WithMaxInFlight(2)},
			attempts: []attempt{
				{listBooks, "", true}, {other, "", true}, {getBook, "", false}, {other, "", false},
			},
		},
		{
			name: "pattern shared by its methods, others free",
			opts: []concurrency.Option{concurrency.WithRule(concurrency.Rule{Methods: []string{"library.v1.Library"}, MaxInFlight: 1})},
			attempts: []attempt{
				{listBooks, "", true}, {getBook, "", false}, {other, "", true}, {other, "", true},
			},
		},
		{
			name: "most specific pattern wins",
			opts: []concurrency.Option{
				concurrency.WithRule(concurrency.Rule{Methods: []string{"library.*"}, MaxInFlight: 1}),
				concurrency.WithRule(concurrency.Rule{Methods: []string{"library.v1.Library.GetBook"}, MaxInFlight: 2}),
			},
			attempts: []attempt{
				{listBooks, "", true}, {listBooks, "", false}, {getBook, "", true}, {getBook, "", true}, {getBook, "", false},
			},
		},
		{
			name: "per key in a rule",
			opts: []concurrency.Option{
				concurrency.WithKey(concurrency.KeyFunc(ratelimit.MetadataKey("x-api-key"))),
				concurrency.WithRule(concurrency.Rule{Methods: []string{"*"}, MaxInFlightPerKey: 1}),
			},
			attempts: []attempt{
				{listBooks, "a", true}, {getBook, "a", false}, {listBooks, "b", true}, {listBooks, "", true}, {listBooks, "", true},
			},
		},
		{
			name: "per key across methods and global together",
			opts: []concurrency.Option{
				concurrency.WithKey(concurrency.KeyFunc(ratelimit.MetadataKey("X-Api-Key"))),
				concurrency.WithMaxInFlightPerKey(2),
				concurrency.WithMaxInFlight(3),
			},
			attempts: []attempt{
				{listBooks, "a", true}, {other, "a", true}, {getBook, "a", false}, {getBook, "b", true}, {getBook, "c", false},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			l, err := concurrency.New(tt.opts...)
			if err != nil {
				t.Fatal(err)
			}
			intercept := l.StreamServerInterceptor()
			release := make(chan struct{})
			var calls []*call
			admitted := 0
			for i, a := range tt.attempts {
				c := start(context.Background(), intercept, a.method, a.key, release)
				calls = append(calls, c)
				err := c.outcome(t)
				if a.admitted {
					admitted++
					if err != nil {
						t.Errorf("attempt %d (%s key %q): %v, want admitted", i, a.method, a.key, err)
					}
					continue
				}
				if status.Code(err) != codes.ResourceExhausted {
					t.Errorf("attempt %d (%s key %q): %v, want RESOURCE_EXHAUSTED", i, a.method, a.key, err)
				}
			}
			if got := l.InFlight(); got != admitted {
				t.Errorf("InFlight() = %d, want %d", got, admitted)
			}
			close(release)
			for _, c := range calls {
				c.wait()
			}
			if got := l.InFlight(); got != 0 {
				t.Errorf("InFlight() after every call ended = %d, want 0", got)
			}
			if got := concurrency.KeysInUse(l); got != 0 {
				t.Errorf("%d keys still tracked after every call ended", got)
			}
		})
	}
}

func TestRefusalCarriesRetryInfo(t *testing.T) {
	t.Parallel()
	l, err := concurrency.New(concurrency.WithMaxInFlight(1), concurrency.WithRetryDelay(250*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	intercept := l.StreamServerInterceptor()
	release := make(chan struct{})
	defer close(release)
	if err := start(context.Background(), intercept, "/a.S/M", "", release).outcome(t); err != nil {
		t.Fatal(err)
	}
	refused := start(context.Background(), intercept, "/a.S/M", "", release)
	st := status.Convert(refused.outcome(t))
	if st.Code() != codes.ResourceExhausted || !strings.Contains(st.Message(), "at most 1") {
		t.Fatalf("refusal = %v, want RESOURCE_EXHAUSTED naming the limit", st)
	}
	// The REST adapter sends it as Retry-After: whole seconds, rounded up.
	if got := refused.header.Get(concurrency.HeaderRetryAfter); len(got) != 1 || got[0] != "1" {
		t.Errorf("retry-after header = %q, want [1] (250ms rounded up)", got)
	}
	var found bool
	for _, d := range st.Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok {
			found = true
			if got := ri.GetRetryDelay().AsDuration(); got != 250*time.Millisecond {
				t.Errorf("retry delay = %v, want 250ms", got)
			}
		}
	}
	if !found {
		t.Errorf("details = %v, want a RetryInfo", st.Details())
	}
}

func TestQueueTimeout(t *testing.T) {
	t.Parallel()
	t.Run("queued call gets the freed slot", func(t *testing.T) {
		t.Parallel()
		l, err := concurrency.New(concurrency.WithMaxInFlight(1), concurrency.WithQueueTimeout(5*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		intercept := l.StreamServerInterceptor()
		first, second := make(chan struct{}), make(chan struct{})
		defer close(second)
		if err := start(context.Background(), intercept, "/a.S/M", "", first).outcome(t); err != nil {
			t.Fatal(err)
		}
		queued := start(context.Background(), intercept, "/a.S/M", "", second)
		select {
		case <-queued.admitted:
			t.Fatal("second call admitted while the only slot was taken")
		case <-time.After(50 * time.Millisecond):
		}
		close(first)
		if err := queued.outcome(t); err != nil {
			t.Fatalf("queued call: %v, want admitted once the slot was freed", err)
		}
	})
	t.Run("queued call times out", func(t *testing.T) {
		t.Parallel()
		l, err := concurrency.New(concurrency.WithMaxInFlight(1), concurrency.WithQueueTimeout(50*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		intercept := l.StreamServerInterceptor()
		release := make(chan struct{})
		defer close(release)
		if err := start(context.Background(), intercept, "/a.S/M", "", release).outcome(t); err != nil {
			t.Fatal(err)
		}
		begin := time.Now()
		err = start(context.Background(), intercept, "/a.S/M", "", release).outcome(t)
		if status.Code(err) != codes.ResourceExhausted {
			t.Fatalf("queued call: %v, want RESOURCE_EXHAUSTED after the queue timeout", err)
		}
		if waited := time.Since(begin); waited < 50*time.Millisecond {
			t.Errorf("refused after %v, before the 50ms queue timeout", waited)
		}
	})
	t.Run("queued call's context ends", func(t *testing.T) {
		t.Parallel()
		l, err := concurrency.New(concurrency.WithMaxInFlight(1), concurrency.WithQueueTimeout(time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		intercept := l.StreamServerInterceptor()
		release := make(chan struct{})
		defer close(release)
		if err := start(context.Background(), intercept, "/a.S/M", "", release).outcome(t); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
		defer cancel()
		if err := start(ctx, intercept, "/a.S/M", "", release).outcome(t); status.Code(err) != codes.DeadlineExceeded {
			t.Fatalf("queued call: %v, want DEADLINE_EXCEEDED from its own deadline", err)
		}
	})
}

// TestExactlyLimitAdmitted races many calls against one limit: exactly the
// limit get in, whatever the interleaving.
func TestExactlyLimitAdmitted(t *testing.T) {
	t.Parallel()
	const limit, calls = 10, 100
	l, err := concurrency.New(
		concurrency.WithKey(concurrency.MethodKey()),
		concurrency.WithRule(concurrency.Rule{Methods: []string{"*"}, MaxInFlight: limit, MaxInFlightPerKey: limit}),
	)
	if err != nil {
		t.Fatal(err)
	}
	intercept := l.StreamServerInterceptor()
	release := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	admitted, refused := 0, 0
	for range calls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := start(context.Background(), intercept, "/a.S/M", "", release)
			err := c.outcome(t)
			mu.Lock()
			defer mu.Unlock()
			if err == nil {
				admitted++
			} else if status.Code(err) == codes.ResourceExhausted {
				refused++
			}
		}()
	}
	wg.Wait()
	close(release)
	if admitted != limit || refused != calls-limit {
		t.Errorf("admitted %d, refused %d; want %d and %d", admitted, refused, limit, calls-limit)
	}
}

func TestNewRejectsBadSettings(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		opts []concurrency.Option
		want string
	}{
		{"negative global", []concurrency.Option{concurrency.WithMaxInFlight(-1)}, "negative"},
		{"negative queue", []concurrency.Option{concurrency.WithQueueTimeout(-time.Second)}, "negative"},
		{"per key without key", []concurrency.Option{concurrency.WithMaxInFlightPerKey(1)}, "needs a key"},
		{"rule per key without key", []concurrency.Option{concurrency.WithRule(concurrency.Rule{Methods: []string{"*"}, MaxInFlightPerKey: 1})}, "needs a key"},
		{"rule without methods", []concurrency.Option{concurrency.WithRule(concurrency.Rule{MaxInFlight: 1})}, "no method pattern"},
		{"bad pattern", []concurrency.Option{concurrency.WithRule(concurrency.Rule{Methods: []string{"a/b"}, MaxInFlight: 1})}, "must not contain"},
		{"pattern twice", []concurrency.Option{
			concurrency.WithRule(concurrency.Rule{Methods: []string{"a.*"}, MaxInFlight: 1}),
			concurrency.WithRule(concurrency.Rule{Methods: []string{"a.*"}, MaxInFlight: 2}),
		}, "given twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := concurrency.New(tt.opts...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("New: %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func BenchmarkAdmission(b *testing.B) {
	for _, bc := range []struct {
		name string
		opts []concurrency.Option
	}{
		{"global", []concurrency.Option{concurrency.WithMaxInFlight(1 << 20)}},
		{"global+rule+key", []concurrency.Option{
			concurrency.WithMaxInFlight(1 << 20),
			concurrency.WithKey(concurrency.KeyFunc(ratelimit.MetadataKey("x-api-key"))),
			concurrency.WithRule(concurrency.Rule{Methods: []string{"library.v1.*"}, MaxInFlight: 1 << 20, MaxInFlightPerKey: 1 << 20}),
		}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			l, err := concurrency.New(bc.opts...)
			if err != nil {
				b.Fatal(err)
			}
			intercept := l.StreamServerInterceptor()
			info := &grpc.StreamServerInfo{FullMethod: "/library.v1.Library/ListBooks"}
			handler := func(any, grpc.ServerStream) error { return nil }
			streams := make([]fakeStream, 64)
			for i := range streams {
				streams[i] = fakeStream{ctx: withKey(context.Background(), fmt.Sprint("key-", i))}
			}
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				i := 0
				for pb.Next() {
					i++
					ss := streams[i%len(streams)]
					if err := intercept(nil, ss, info, handler); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
