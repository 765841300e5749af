package frontdoor_test

import (
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/server/frontdoor"
)

func TestNewRejectsBadConfig(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	tests := []struct {
		name string
		ln   net.Listener
		opts []frontdoor.Option
	}{
		{"nil listener", nil, nil},
		{"zero sniff timeout", ln, []frontdoor.Option{frontdoor.WithSniffTimeout(0)}},
		{"negative sniff timeout", ln, []frontdoor.Option{frontdoor.WithSniffTimeout(-time.Second)}},
		{"tls without certificate", ln, []frontdoor.Option{frontdoor.WithTLS(&tls.Config{})}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if d, err := frontdoor.New(tt.ln, tt.opts...); err == nil {
				t.Fatalf("New = %v, nil; want an error", d)
			}
		})
	}
}

func TestCloseStopsEverything(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	door, err := frontdoor.New(ln)
	if err != nil {
		t.Fatal(err)
	}
	serve := make(chan error, 1)
	serveHTTP := make(chan error, 1)
	accept := make(chan error, 1)
	go func() { serve <- door.Serve() }()
	go func() { serveHTTP <- door.ServeHTTP(&http.Server{}) }()
	go func() {
		_, err := door.GRPC().Accept()
		accept <- err
	}()
	// A connection in the middle of being classified is closed too.
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	write(t, c, []byte("PRI * HTTP/2.0"))
	time.Sleep(50 * time.Millisecond)

	if err := door.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	wait := func(name string, ch <-chan error) error {
		t.Helper()
		select {
		case err := <-ch:
			return err
		case <-time.After(5 * time.Second):
			t.Fatalf("%s still running after Close", name)
			return nil
		}
	}
	if err := wait("Serve", serve); err != nil {
		t.Errorf("Serve = %v, want nil", err)
	}
	if err := wait("ServeHTTP", serveHTTP); err != nil {
		t.Errorf("ServeHTTP = %v, want nil", err)
	}
	if err := wait("GRPC().Accept", accept); !errors.Is(err, net.ErrClosed) {
		t.Errorf("GRPC().Accept = %v, want net.ErrClosed", err)
	}
	readUntilClosed(t, c, 5*time.Second)

	if err := door.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
	if err := door.Serve(); err == nil {
		t.Error("second Serve = nil, want an error")
	}
	if err := door.ServeHTTP(&http.Server{}); err != nil {
		t.Errorf("ServeHTTP after Close = %v, want nil", err)
	}
}

// flakyListener fails its first Accepts with a temporary error, then with
// final (if set) or passes through.
type flakyListener struct {
	net.Listener
	temporary atomic.Int32
	final     error
}

type tempErr struct{}

func (tempErr) Error() string   { return "accept: too many open files" }
func (tempErr) Timeout() bool   { return false }
func (tempErr) Temporary() bool { return true }

func (l *flakyListener) Accept() (net.Conn, error) {
	if l.temporary.Add(-1) >= 0 {
		return nil, &net.OpError{Op: "accept", Net: "tcp", Err: tempErr{}}
	}
	if l.final != nil {
		return nil, l.final
	}
	return l.Listener.Accept()
}

func TestServeRetriesTemporaryAcceptErrors(t *testing.T) {
	t.Parallel()
	var flaky *flakyListener
	h := startHarness(t, harnessOptions{listener: func(ln net.Listener) net.Listener {
		flaky = &flakyListener{Listener: ln}
		flaky.temporary.Store(3)
		return flaky
	}})
	resp, err := h.httpClient(t, modeHTTP1, false).Get(h.url("/"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "ok" {
		t.Fatalf("body = %q", b)
	}
	if n := flaky.temporary.Load(); n >= 0 {
		t.Fatalf("%d temporary errors left: Serve did not retry them all", n+1)
	}
}

func TestServeReturnsPermanentAcceptErrors(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	flaky := &flakyListener{Listener: ln, final: &net.OpError{Op: "accept", Net: "tcp", Err: syscall.EINVAL}}
	door, err := frontdoor.New(flaky)
	if err != nil {
		t.Fatal(err)
	}
	defer door.Close()
	if err := door.Serve(); !errors.Is(err, syscall.EINVAL) {
		t.Fatalf("Serve = %v, want EINVAL", err)
	}
}

// grpc.Server.Stop closes the gRPC listener; the HTTP side keeps working.
func TestClosingGRPCListenerLeavesDoorOpen(t *testing.T) {
	t.Parallel()
	h := startHarness(t, harnessOptions{})
	if err := h.door.GRPC().Close(); err != nil {
		t.Fatal(err)
	}
	resp, err := h.httpClient(t, modeHTTP2, false).Get(h.url("/"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status = %d", resp.StatusCode)
	}
}

// Configs from GetConfigForClient get the door's ALPN protocols too.
func TestTLSConfigFromGetConfigForClient(t *testing.T) {
	t.Parallel()
	h := startHarness(t, harnessOptions{tls: true, tlsConfig: func(p *pki) *tls.Config {
		return &tls.Config{GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			return &tls.Config{Certificates: []tls.Certificate{p.server}}, nil
		}}
	}})
	resp, err := h.httpClient(t, modeHTTP2, false).Get(h.url("/"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.ProtoMajor != 2 || resp.Header.Get("X-TLS") != "true" {
		t.Fatalf("got HTTP/%d, TLS %s; want HTTP/2 over TLS", resp.ProtoMajor, resp.Header.Get("X-TLS"))
	}
	h.grpcCheck(t, false)
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestDroppedConnectionsAreLoggedAtDebug(t *testing.T) {
	t.Parallel()
	var logs lockedBuffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	h := startHarness(t, harnessOptions{opts: []frontdoor.Option{frontdoor.WithLogger(logger)}})
	c, err := net.Dial("tcp", h.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	write(t, c, new(frames).preface().ack().wire.Bytes())
	readUntilClosed(t, c, 5*time.Second)
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(logs.String(), "level=DEBUG msg=\"frontdoor: dropped connection\"") {
		if time.Now().After(deadline) {
			t.Fatalf("no debug record of the dropped connection in %q", logs.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}
