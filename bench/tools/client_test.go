package tools_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// TestClientHonoursItsRaisedWindow drives the gRPC client that ghz links
// (this module's google.golang.org/grpc) against a scripted HTTP/2 server
// through the one interleaving that made ghz fail about one call in 5,000
// with `Internal: unexpected EOF` at 64 KiB and concurrency 256, whatever
// system it measured (docs/benchmarks.md).
//
// grpc-go's client measures the connection's bandwidth-delay product with
// a ping and, when the estimate grows, raises every stream's receive
// window and announces the new INITIAL_WINDOW_SIZE in a SETTINGS frame.
// Before grpc-go 1.49 (grpc/grpc-go#5358, fixed by #5494) a stream whose
// HEADERS were queued but not yet written when the raise happened kept the
// old 65,535-byte window, while the server, which receives its HEADERS
// before the SETTINGS, rightly applies the new size to it. A response
// larger than 65,535 bytes (a 64 KiB message is 65,5xx on the wire) then
// made the client reset the stream with FLOW_CONTROL_ERROR and fail the
// call mid-message: `Internal: unexpected EOF`.
//
// The test holds the client's writer while that stream's HEADERS wait
// behind it, so the interleaving is forced rather than hoped for: the
// server sends a 90,000-byte message inside the window the client's own
// SETTINGS announced, and the call must receive it.
func TestClientHonoursItsRaisedWindow(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			accepted <- c
		}
	}()

	gate := newPingGate()
	t.Cleanup(gate.close)
	cc, err := grpc.Dial("passthrough:///"+ln.Addr().String(),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.ForceCodec(rawCodec{})),
		grpc.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) {
			c, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
			if err != nil {
				return nil, err
			}
			return gate.wrap(c), nil
		}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })

	var conn net.Conn
	select {
	case conn = <-accepted:
	case <-ctx.Done():
		t.Fatal("the client never connected")
	}
	srv := newScriptedServer(t, ctx, conn)

	// Stream A carries the data the client's estimator samples.
	desc := &grpc.StreamDesc{ServerStreams: true}
	a, err := cc.NewStream(ctx, desc, "/bench.Scripted/A")
	if err != nil {
		t.Fatal(err)
	}
	if err := a.CloseSend(); err != nil {
		t.Fatal(err)
	}
	idA := srv.await("HEADERS of stream A", func(e event) bool { return e.typ == http2.FrameHeaders }).stream
	srv.headers(idA, false, ":status", "200", "content-type", "application/grpc")
	srv.message(idA, 60_000) // at least 2/3 of the 65,535-byte window: the estimate doubles
	var got []byte
	if err := a.RecvMsg(&got); err != nil || len(got) != 60_000-5 {
		t.Fatalf("stream A: %d bytes, %v", len(got), err)
	}

	// The client's BDP ping went out and its writer is held right after it.
	select {
	case <-gate.held:
	case <-ctx.Done():
		t.Fatal("the client sent no BDP ping")
	}
	// Stream S: queued while the writer is held, so the client has given it
	// a window but not yet written its HEADERS.
	s, err := cc.NewStream(ctx, desc, "/bench.Scripted/S")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CloseSend(); err != nil {
		t.Fatal(err)
	}
	// The ping's ack raises the client's windows; stream A's trailers come
	// after it, so A's end proves the client has handled the ack.
	srv.await("the BDP ping", func(e event) bool { return e.typ == http2.FramePing && !e.ack })
	srv.ping(true, bdpPingData)
	srv.headers(idA, true, "grpc-status", "0")
	if err := a.RecvMsg(&got); err != io.EOF {
		t.Fatalf("stream A ended with %v, want io.EOF", err)
	}
	gate.release()

	// The client now writes S's HEADERS, then SETTINGS with its raised
	// INITIAL_WINDOW_SIZE, which applies to S too (RFC 9113, 6.9.2).
	var idS, window uint32
	srv.until("HEADERS of stream S and SETTINGS raising INITIAL_WINDOW_SIZE", func(e event) bool {
		switch {
		case e.typ == http2.FrameHeaders:
			idS = e.stream
		case e.typ == http2.FrameSettings && e.iws > 0:
			window = e.iws
		}
		return idS != 0 && window != 0
	})
	const size = 90_000
	if window < size {
		t.Fatalf("the client raised its window to %d bytes only: the test no longer exercises a response above 65,535 bytes", window)
	}
	srv.settingsAck()
	srv.headers(idS, false, ":status", "200", "content-type", "application/grpc")
	srv.message(idS, size)
	srv.headers(idS, true, "grpc-status", "0")
	// The client answers this ping after it has handled everything before.
	barrier := [8]byte{'b', 'a', 'r', 'r', 'i', 'e', 'r', '!'}
	srv.ping(false, barrier)
	for _, e := range srv.until("the ack of the barrier ping", func(e event) bool { return e.typ == http2.FramePing && e.ack && e.ping == barrier }) {
		if e.typ == http2.FrameRSTStream && e.stream == idS && e.code != http2.ErrCodeNo {
			t.Errorf("the client reset stream S with %v after a %d-byte response inside the %d-byte window its own SETTINGS announced (grpc-go before 1.49, grpc/grpc-go#5358)", e.code, size, window)
		}
	}
	got = nil
	if err := s.RecvMsg(&got); err != nil || len(got) != size-5 {
		t.Fatalf("stream S: %d bytes, %v", len(got), err)
	}
	if err := s.RecvMsg(&got); err != io.EOF {
		t.Fatalf("stream S ended with %v, want io.EOF", err)
	}
}

// bdpPingData is what grpc-go's client puts in its bandwidth-delay
// product ping; its ack is what makes the client raise its windows.
var bdpPingData = [8]byte{2, 4, 16, 16, 9, 14, 7, 7}

// pingGate wraps the client's connection and holds the first write that
// carries the BDP ping, after its bytes went out: the client's writer then
// waits, with everything queued after the ping, until release.
type pingGate struct {
	held    chan struct{} // closed when the write is held
	resume  chan struct{} // closed by release
	done    chan struct{} // closed by close: nothing is held any more
	once    sync.Once
	mu      sync.Mutex
	tripped bool
}

func newPingGate() *pingGate {
	return &pingGate{held: make(chan struct{}), resume: make(chan struct{}), done: make(chan struct{})}
}

func (g *pingGate) wrap(c net.Conn) net.Conn { return &gatedConn{Conn: c, gate: g} }

func (g *pingGate) release() { g.once.Do(func() { close(g.resume) }) }

func (g *pingGate) close() {
	g.release()
	select {
	case <-g.done:
	default:
		close(g.done)
	}
}

// pingFrame is the BDP ping as it appears on the wire.
var pingFrame = append([]byte{0, 0, 8, byte(http2.FramePing), 0, 0, 0, 0, 0}, bdpPingData[:]...)

type gatedConn struct {
	net.Conn
	gate *pingGate
}

func (c *gatedConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	g := c.gate
	g.mu.Lock()
	hold := !g.tripped && bytes.Contains(b, pingFrame)
	g.tripped = g.tripped || hold
	g.mu.Unlock()
	if hold {
		close(g.held)
		select {
		case <-g.resume:
		case <-g.done:
		}
	}
	return n, err
}

// event is what the scripted server keeps of a frame from the client.
type event struct {
	typ    http2.FrameType
	stream uint32
	ack    bool
	ping   [8]byte
	code   http2.ErrCode
	iws    uint32 // SETTINGS_INITIAL_WINDOW_SIZE when present
}

// scriptedServer speaks just enough HTTP/2 for the test to decide every
// frame the client receives, and when.
type scriptedServer struct {
	t      *testing.T
	ctx    context.Context
	w      *http2.Framer
	events chan event
}

func newScriptedServer(t *testing.T, ctx context.Context, conn net.Conn) *scriptedServer {
	t.Helper()
	t.Cleanup(func() { conn.Close() })
	if err := conn.SetDeadline(time.Now().Add(20 * time.Second)); err != nil {
		t.Fatal(err)
	}
	preface := make([]byte, len(http2.ClientPreface))
	if _, err := io.ReadFull(conn, preface); err != nil || string(preface) != http2.ClientPreface {
		t.Fatalf("client preface %q: %v", preface, err)
	}
	s := &scriptedServer{t: t, ctx: ctx, w: http2.NewFramer(conn, nil), events: make(chan event, 1024)}
	if err := s.w.WriteSettings(); err != nil {
		t.Fatal(err)
	}
	r := http2.NewFramer(nil, conn)
	done := make(chan struct{})
	t.Cleanup(func() {
		conn.Close()
		<-done
	})
	go func() {
		defer close(done)
		defer close(s.events)
		for {
			f, err := r.ReadFrame()
			if err != nil {
				return
			}
			e := event{typ: f.Header().Type, stream: f.Header().StreamID}
			switch f := f.(type) {
			case *http2.SettingsFrame:
				e.ack = f.IsAck()
				if v, ok := f.Value(http2.SettingInitialWindowSize); ok && !e.ack {
					e.iws = v
				}
			case *http2.PingFrame:
				e.ack, e.ping = f.IsAck(), f.Data
			case *http2.RSTStreamFrame:
				e.code = f.ErrCode
			}
			select {
			case s.events <- e:
			case <-ctx.Done():
				return
			}
		}
	}()
	// The client's first SETTINGS needs an ack before it counts the
	// connection as ready.
	s.await("the client's SETTINGS", func(e event) bool { return e.typ == http2.FrameSettings && !e.ack })
	s.settingsAck()
	return s
}

// until returns the frames the client sent up to and including the first
// that match wants.
func (s *scriptedServer) until(what string, match func(event) bool) []event {
	s.t.Helper()
	var seen []event
	for {
		select {
		case e, ok := <-s.events:
			if !ok {
				s.t.Fatalf("connection ended while waiting for %s", what)
			}
			seen = append(seen, e)
			if match(e) {
				return seen
			}
		case <-s.ctx.Done():
			s.t.Fatalf("no %s from the client", what)
		}
	}
}

func (s *scriptedServer) await(what string, match func(event) bool) event {
	s.t.Helper()
	seen := s.until(what, match)
	return seen[len(seen)-1]
}

func (s *scriptedServer) settingsAck() {
	s.t.Helper()
	if err := s.w.WriteSettingsAck(); err != nil {
		s.t.Fatal(err)
	}
}

func (s *scriptedServer) ping(ack bool, data [8]byte) {
	s.t.Helper()
	if err := s.w.WritePing(ack, data); err != nil {
		s.t.Fatal(err)
	}
}

func (s *scriptedServer) headers(stream uint32, end bool, kv ...string) {
	s.t.Helper()
	var block bytes.Buffer
	enc := hpack.NewEncoder(&block)
	for i := 0; i+1 < len(kv); i += 2 {
		if err := enc.WriteField(hpack.HeaderField{Name: kv[i], Value: kv[i+1]}); err != nil {
			s.t.Fatal(err)
		}
	}
	err := s.w.WriteHeaders(http2.HeadersFrameParam{StreamID: stream, BlockFragment: block.Bytes(), EndStream: end, EndHeaders: true})
	if err != nil {
		s.t.Fatal(err)
	}
}

// message sends one gRPC message of size bytes on the wire (the 5-byte
// prefix included) in DATA frames of the default maximum size.
func (s *scriptedServer) message(stream uint32, size int) {
	s.t.Helper()
	b := make([]byte, size)
	binary.BigEndian.PutUint32(b[1:5], uint32(size-5))
	for len(b) > 0 {
		n := min(len(b), 16384)
		if err := s.w.WriteData(stream, false, b[:n]); err != nil {
			s.t.Fatal(err)
		}
		b = b[n:]
	}
}

// rawCodec passes messages through as bytes: the test needs no schema.
type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error) {
	b, ok := v.(*[]byte)
	if !ok {
		return nil, errors.New("rawCodec: want *[]byte")
	}
	return *b, nil
}

func (rawCodec) Unmarshal(data []byte, v any) error {
	b, ok := v.(*[]byte)
	if !ok {
		return errors.New("rawCodec: want *[]byte")
	}
	*b = append((*b)[:0], data...)
	return nil
}

func (rawCodec) Name() string { return "raw" }
