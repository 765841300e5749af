package frontdoor_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

type result struct {
	resp *http.Response
	body string
	err  error
}

// slowRequest starts a GET /slow and returns once the handler runs it.
func slowRequest(t *testing.T, h *harness, mode httpMode) <-chan result {
	return blockedRequest(t, h, mode, "/slow")
}

// blockedRequest starts a GET path and returns once the handler runs it.
func blockedRequest(t *testing.T, h *harness, mode httpMode, path string) <-chan result {
	t.Helper()
	client := h.httpClient(t, mode, false)
	done := make(chan result, 1)
	go func() {
		resp, err := client.Get(h.url(path))
		if err != nil {
			done <- result{err: err}
			return
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		done <- result{resp: resp, body: string(b), err: err}
	}()
	select {
	case <-h.entered:
	case r := <-done:
		t.Fatalf("slow request ended early: %v", r.err)
	case <-time.After(5 * time.Second):
		t.Fatal("slow request never reached the handler")
	}
	return done
}

var shutdownCases = []struct {
	name string
	tls  bool
	mode httpMode
}{
	{"http1", false, modeHTTP1},
	{"h2c", false, modeHTTP2},
	{"http1/tls", true, modeHTTP1},
	{"h2/tls", true, modeHTTP2},
}

func TestShutdownLetsRequestsInFlightFinish(t *testing.T) {
	t.Parallel()
	for _, tt := range shutdownCases {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := startHarness(t, harnessOptions{tls: tt.tls})
			inFlight := slowRequest(t, h, tt.mode)

			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			shut := make(chan error, 1)
			go func() { shut <- h.door.Shutdown(ctx) }()

			// The port stops accepting...
			deadline := time.Now().Add(5 * time.Second)
			for {
				c, err := net.DialTimeout("tcp", h.addr, time.Second)
				if err != nil {
					break
				}
				c.Close()
				if time.Now().After(deadline) {
					t.Fatal("still accepting connections after Shutdown")
				}
				time.Sleep(10 * time.Millisecond)
			}
			// ...but Shutdown waits for the request in flight...
			select {
			case err := <-shut:
				t.Fatalf("Shutdown returned %v with a request in flight", err)
			case <-time.After(100 * time.Millisecond):
			}
			// ...which completes normally.
			close(h.release)
			r := <-inFlight
			if r.err != nil {
				t.Fatalf("request in flight: %v", r.err)
			}
			if r.resp.StatusCode != http.StatusOK || r.body != "ok" {
				t.Fatalf("request in flight: %d %q", r.resp.StatusCode, r.body)
			}
			select {
			case err := <-shut:
				if err != nil {
					t.Fatalf("Shutdown: %v", err)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("Shutdown did not return after the last request")
			}
		})
	}
}

func TestShutdownDeadlineClosesRemainingConnections(t *testing.T) {
	t.Parallel()
	for _, tt := range shutdownCases {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := startHarness(t, harnessOptions{tls: tt.tls})
			inFlight := slowRequest(t, h, tt.mode)

			const grace = 200 * time.Millisecond
			ctx, cancel := context.WithTimeout(context.Background(), grace)
			defer cancel()
			start := time.Now()
			err := h.door.Shutdown(ctx)
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("Shutdown = %v, want DeadlineExceeded", err)
			}
			if d := time.Since(start); d < grace || d > grace+3*time.Second {
				t.Fatalf("Shutdown took %v, grace %v", d, grace)
			}
			select {
			case r := <-inFlight:
				if r.err == nil {
					t.Fatalf("request cut by Shutdown succeeded: %d %q", r.resp.StatusCode, r.body)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("request cut by Shutdown still running")
			}
		})
	}
}

// gRPC connections belong to the grpc.Server: the door's Shutdown leaves
// them for GracefulStop.
func TestShutdownLeavesGRPCConnectionsAlone(t *testing.T) {
	t.Parallel()
	h := startHarness(t, harnessOptions{})
	cc, err := grpc.NewClient(h.addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	client := healthpb.NewHealthClient(cc)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := client.Check(ctx, &healthpb.HealthCheckRequest{}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := h.door.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("Shutdown waited %v for a gRPC connection", d)
	}
	// The listener is gone, so this only works on the existing connection.
	if _, err := client.Check(ctx, &healthpb.HealthCheckRequest{}); err != nil {
		t.Fatalf("call on the existing gRPC connection after Shutdown: %v", err)
	}
}

// Connections hijacked from the HTTP server are waited for too, and closed
// when the deadline passes.
func TestShutdownWaitsForHijackedConnections(t *testing.T) {
	t.Parallel()
	t.Run("graceful", func(t *testing.T) {
		t.Parallel()
		h := startHarness(t, harnessOptions{})
		inFlight := blockedRequest(t, h, modeHTTP1, "/hijack")
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		shut := make(chan error, 1)
		go func() { shut <- h.door.Shutdown(ctx) }()
		select {
		case err := <-shut:
			t.Fatalf("Shutdown returned %v with a hijacked connection open", err)
		case <-time.After(200 * time.Millisecond):
		}
		close(h.release)
		if r := <-inFlight; r.err != nil || r.body != "ok" {
			t.Fatalf("hijacked request: %v %q", r.err, r.body)
		}
		select {
		case err := <-shut:
			if err != nil {
				t.Fatalf("Shutdown: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("Shutdown did not return after the hijacked connection closed")
		}
	})
	t.Run("deadline", func(t *testing.T) {
		t.Parallel()
		h := startHarness(t, harnessOptions{})
		inFlight := blockedRequest(t, h, modeHTTP1, "/hijack")
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		if err := h.door.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Shutdown = %v, want DeadlineExceeded", err)
		}
		select {
		case r := <-inFlight:
			if r.err == nil {
				t.Fatalf("request on a hijacked connection cut by Shutdown succeeded: %q", r.body)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("hijacked connection still open after the Shutdown deadline")
		}
		close(h.release)
	})
}
