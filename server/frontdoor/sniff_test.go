package frontdoor_test

import (
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/sluice-dev/sluice/server/frontdoor"
)

// frames builds what a raw HTTP/2 client sends. replay is what the server
// behind the door must read: everything but the acknowledgement of the
// door's SETTINGS.
type frames struct {
	wire, replay bytes.Buffer
}

func (f *frames) add(inReplay bool, write func(*http2.Framer) error) *frames {
	var b bytes.Buffer
	if err := write(http2.NewFramer(&b, nil)); err != nil {
		panic(err)
	}
	f.wire.Write(b.Bytes())
	if inReplay {
		f.replay.Write(b.Bytes())
	}
	return f
}

func (f *frames) raw(b []byte) *frames {
	f.wire.Write(b)
	f.replay.Write(b)
	return f
}

func (f *frames) preface() *frames { return f.raw([]byte(http2.ClientPreface)) }

func (f *frames) settings() *frames {
	return f.add(true, func(fr *http2.Framer) error {
		return fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1 << 20})
	})
}

func (f *frames) ack() *frames {
	return f.add(false, func(fr *http2.Framer) error { return fr.WriteSettingsAck() })
}

func (f *frames) ping() *frames {
	return f.add(true, func(fr *http2.Framer) error { return fr.WritePing(false, [8]byte{1}) })
}

func (f *frames) windowUpdate() *frames {
	return f.add(true, func(fr *http2.Framer) error { return fr.WriteWindowUpdate(0, 1<<20) })
}

// headers sends a POST on stream 1 with the extra fields (name, value
// pairs), its block cut into pieces of at most chunk bytes (HEADERS then
// CONTINUATIONs) when chunk > 0.
func (f *frames) headers(chunk int, fields ...string) *frames {
	var block bytes.Buffer
	enc := hpack.NewEncoder(&block)
	all := append([]string{":method", "POST", ":scheme", "http", ":path", "/pkg.Svc/Method", ":authority", "door"}, fields...)
	for i := 0; i+1 < len(all); i += 2 {
		if err := enc.WriteField(hpack.HeaderField{Name: all[i], Value: all[i+1]}); err != nil {
			panic(err)
		}
	}
	b := block.Bytes()
	if chunk <= 0 || chunk > len(b) {
		chunk = len(b)
	}
	first := b[:chunk]
	rest := b[chunk:]
	f.add(true, func(fr *http2.Framer) error {
		return fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: first, EndHeaders: len(rest) == 0})
	})
	for len(rest) > 0 {
		n := min(chunk, len(rest))
		piece := rest[:n]
		rest = rest[n:]
		end := len(rest) == 0
		f.add(true, func(fr *http2.Framer) error { return fr.WriteContinuation(1, end, piece) })
	}
	return f
}

// sides records which side the door handed each connection to, keyed by
// the client's address.
type sides struct {
	mu sync.Mutex
	m  map[string]chan string
}

func (s *sides) ch(addr string) chan string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = make(map[string]chan string)
	}
	c, ok := s.m[addr]
	if !ok {
		c = make(chan string, 2)
		s.m[addr] = c
	}
	return c
}

// rawDoor is a cleartext door whose gRPC side hands its conns to the test
// (grpcConns) and whose HTTP side is a real net/http server.
type rawDoor struct {
	door      *frontdoor.Door
	addr      string
	sides     *sides
	grpcConns chan net.Conn
}

func startRawDoor(t *testing.T, sniff time.Duration) *rawDoor {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	door, err := frontdoor.New(ln, frontdoor.WithSniffTimeout(sniff))
	if err != nil {
		t.Fatal(err)
	}
	r := &rawDoor{door: door, addr: ln.Addr().String(), sides: new(sides), grpcConns: make(chan net.Conn, 64)}
	hs := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}),
		ConnState: func(c net.Conn, s http.ConnState) {
			if s == http.StateNew {
				r.sides.ch(c.RemoteAddr().String()) <- "http"
			}
		},
		ErrorLog: discardLog(),
	}
	var wg sync.WaitGroup
	wg.Add(3)
	go func() { defer wg.Done(); _ = door.Serve() }()
	go func() { defer wg.Done(); _ = door.ServeHTTP(hs) }()
	go func() {
		defer wg.Done()
		for {
			c, err := door.GRPC().Accept()
			if err != nil {
				return
			}
			r.sides.ch(c.RemoteAddr().String()) <- "grpc"
			r.grpcConns <- c
		}
	}()
	t.Cleanup(func() {
		_ = door.Close()
		wg.Wait()
		close(r.grpcConns)
		for c := range r.grpcConns {
			c.Close()
		}
	})
	return r
}

func (r *rawDoor) dial(t *testing.T) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", r.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// readUntilClosed reads c until it fails and returns how long that took;
// it fails the test if c is still open after limit.
func readUntilClosed(t *testing.T, c net.Conn, limit time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	_ = c.SetReadDeadline(start.Add(limit))
	_, err := io.Copy(io.Discard, c)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("connection still open after %v", limit)
	}
	return time.Since(start)
}

func TestHTTP2FirstRequestDecidesSide(t *testing.T) {
	t.Parallel()
	r := startRawDoor(t, 5*time.Second)
	ct := func(v string) []string { return []string{"content-type", v} }
	tests := []struct {
		name   string
		frames *frames
		want   string
	}{
		{"grpc", new(frames).preface().settings().headers(0, ct("application/grpc")...).ack(), "grpc"},
		{"grpc+proto, ack first", new(frames).preface().settings().ack().headers(0, ct("application/grpc+proto")...), "grpc"},
		{"grpc;params", new(frames).preface().settings().headers(0, ct("application/grpc;charset=utf-8")...).ack(), "grpc"},
		{"grpc, continuations", new(frames).preface().settings().headers(7, "te", "trailers", "content-type", "application/grpc", "x-long", strings.Repeat("v", 100)).ack(), "grpc"},
		{"grpc, frames between", new(frames).preface().settings().windowUpdate().ping().ack().ping().headers(0, ct("application/grpc")...), "grpc"},
		{"grpc-web", new(frames).preface().settings().headers(0, ct("application/grpc-web+proto")...).ack(), "http"},
		{"json", new(frames).preface().settings().headers(0, ct("application/json")...).ack(), "http"},
		{"no content type", new(frames).preface().settings().headers(0).ack(), "http"},
		{"upper case", new(frames).preface().settings().headers(0, ct("Application/GRPC")...).ack(), "http"},
		{"grpc prefix only", new(frames).preface().settings().headers(0, ct("application/grpcx")...).ack(), "http"},
		{"two content types", new(frames).preface().settings().headers(0, "content-type", "application/grpc", "content-type", "application/json").ack(), "http"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := r.dial(t)
			if _, err := c.Write(tt.frames.wire.Bytes()); err != nil {
				t.Fatal(err)
			}
			// The door speaks first: one empty SETTINGS frame.
			hdr := make([]byte, 9)
			_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
			if _, err := io.ReadFull(c, hdr); err != nil {
				t.Fatal(err)
			}
			if want := []byte{0, 0, 0, byte(http2.FrameSettings), 0, 0, 0, 0, 0}; !bytes.Equal(hdr, want) {
				t.Fatalf("door's first frame = %x, want empty SETTINGS %x", hdr, want)
			}
			var got string
			select {
			case got = <-r.sides.ch(c.LocalAddr().String()):
			case <-time.After(5 * time.Second):
				t.Fatal("connection not classified")
			}
			if got != tt.want {
				t.Fatalf("side = %s, want %s", got, tt.want)
			}
			if got != "grpc" {
				return
			}
			var sc net.Conn
			for sc = range r.grpcConns {
				if sc.RemoteAddr().String() == c.LocalAddr().String() {
					break
				}
				r.grpcConns <- sc // someone else's
			}
			defer sc.Close()
			want := tt.frames.replay.Bytes()
			replayed := make([]byte, len(want))
			_ = sc.SetReadDeadline(time.Now().Add(5 * time.Second))
			if _, err := io.ReadFull(sc, replayed); err != nil {
				t.Fatalf("read replay: %v", err)
			}
			if !bytes.Equal(replayed, want) {
				t.Fatalf("replayed %x\nwant     %x", replayed, want)
			}
		})
	}
}

func TestMalformedHTTP2IsClosedAtOnce(t *testing.T) {
	t.Parallel()
	r := startRawDoor(t, 10*time.Second)
	ct := []string{"content-type", "application/grpc"}
	frameHeader := func(length int, typ http2.FrameType, flags http2.Flags, stream uint32) []byte {
		return []byte{byte(length >> 16), byte(length >> 8), byte(length), byte(typ), byte(flags),
			byte(stream >> 24), byte(stream >> 16), byte(stream >> 8), byte(stream)}
	}
	bigBlock := new(frames).preface().settings().ack().add(true, func(fr *http2.Framer) error {
		return fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: make([]byte, 16<<10)})
	})
	for range 5 {
		bigBlock.add(true, func(fr *http2.Framer) error { return fr.WriteContinuation(1, false, make([]byte, 16<<10)) })
	}
	tests := []struct {
		name   string
		frames *frames
	}{
		{"headers before settings", new(frames).preface().headers(0, ct...)},
		{"settings ack before settings", new(frames).preface().ack()},
		{"rst_stream before headers", new(frames).preface().settings().add(true, func(fr *http2.Framer) error { return fr.WriteRSTStream(1, http2.ErrCodeCancel) })},
		{"goaway before headers", new(frames).preface().settings().add(true, func(fr *http2.Framer) error { return fr.WriteGoAway(0, http2.ErrCodeNo, nil) })},
		{"data before headers", new(frames).preface().settings().add(true, func(fr *http2.Framer) error { return fr.WriteData(1, false, []byte("x")) })},
		{"frame too large", new(frames).preface().settings().raw(frameHeader(16<<10+1, http2.FrameHeaders, http2.FlagHeadersEndHeaders, 1))},
		{"ping interrupting a header block", new(frames).preface().settings().ack().add(true, func(fr *http2.Framer) error {
			return fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: []byte{0x83}}) // :method POST, no END_HEADERS
		}).ping()},
		{"bad hpack", new(frames).preface().settings().ack().add(true, func(fr *http2.Framer) error {
			return fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: []byte{0xff, 0xff, 0xff, 0x7f}, EndHeaders: true})
		})},
		{"header block over the byte budget", bigBlock},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := r.dial(t)
			go func() { _, _ = c.Write(tt.frames.wire.Bytes()) }()
			readUntilClosed(t, c, 5*time.Second)
			select {
			case s := <-r.sides.ch(c.LocalAddr().String()):
				t.Fatalf("handed to %s", s)
			default:
			}
		})
	}
}

// A client that stalls while being classified is closed when the sniff
// timeout ends, and delays nobody meanwhile.
func TestStalledClientsAreClosedAfterSniffTimeout(t *testing.T) {
	t.Parallel()
	const sniff = 700 * time.Millisecond
	clear := startHarness(t, harnessOptions{sniff: sniff})
	secure := startHarness(t, harnessOptions{sniff: sniff, tls: true})
	tests := []struct {
		name  string
		h     *harness
		start func(t *testing.T, c net.Conn)
	}{
		{"silent", clear, func(*testing.T, net.Conn) {}},
		{"half a preface", clear, func(t *testing.T, c net.Conn) { write(t, c, []byte("PRI * HTTP/2.0\r\n")) }},
		{"preface and settings", clear, func(t *testing.T, c net.Conn) { write(t, c, new(frames).preface().settings().wire.Bytes()) }},
		{"headers never acked", clear, func(t *testing.T, c net.Conn) {
			write(t, c, new(frames).preface().settings().headers(0, "content-type", "application/grpc").wire.Bytes())
		}},
		{"half a header block", clear, func(t *testing.T, c net.Conn) {
			f := new(frames).preface().settings().ack().headers(4, "content-type", "application/grpc").wire.Bytes()
			write(t, c, f[:len(http2.ClientPreface)+9+6+9+9+4]) // HEADERS, not its CONTINUATIONs
		}},
		{"tls, no handshake", secure, func(*testing.T, net.Conn) {}},
		{"tls h2, silent", secure, func(t *testing.T, c net.Conn) {
			tc := tls.Client(c, &tls.Config{RootCAs: secure.pki.pool, NextProtos: []string{"h2"}, ServerName: "127.0.0.1"})
			if err := tc.Handshake(); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			start := time.Now()
			c, err := net.Dial("tcp", tt.h.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			tt.start(t, c)

			// Others get through while c stalls.
			resp, err := tt.h.httpClient(t, modeHTTP1, false).Get(tt.h.url("/"))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			tt.h.grpcCheck(t, false)
			if d := time.Since(start); d >= sniff/2 {
				t.Fatalf("other clients took %v while one stalled, sniff timeout %v", d, sniff)
			}

			readUntilClosed(t, c, sniff+5*time.Second)
			if d := time.Since(start); d < sniff-50*time.Millisecond {
				t.Fatalf("closed after %v, before the sniff timeout %v", d, sniff)
			}
		})
	}
}

func write(t *testing.T, c net.Conn, b []byte) {
	t.Helper()
	if _, err := c.Write(b); err != nil {
		t.Fatal(err)
	}
}

// An HTTP/1 request shorter than the HTTP/2 preface is not held up waiting
// for the rest of a preface.
func TestShortHTTP1RequestIsServed(t *testing.T) {
	t.Parallel()
	h := startHarness(t, harnessOptions{})
	c, err := net.Dial("tcp", h.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	req := "GET / HTTP/1.0\r\n\r\n" // 18 bytes
	write(t, c, []byte(req))
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	got, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(got), "HTTP/1.0 200 OK") || !strings.HasSuffix(string(got), "ok") {
		t.Fatalf("response = %q", got)
	}
}

// The HTTP side's HTTP/2 settings come from http.Server.HTTP2.
func TestHTTP2SettingsReachHTTPSide(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		opts  []frontdoor.Option
		srvH2 *http.HTTP2Config
		want  uint32
	}{
		{"http.Server.HTTP2", nil, &http.HTTP2Config{MaxConcurrentStreams: 7}, 7},
		{"http.Server.HTTP2 other value", nil, &http.HTTP2Config{MaxConcurrentStreams: 11}, 11},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			door, err := frontdoor.New(ln, tt.opts...)
			if err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			wg.Add(2)
			go func() { defer wg.Done(); _ = door.Serve() }()
			go func() { defer wg.Done(); _ = door.ServeHTTP(&http.Server{HTTP2: tt.srvH2, ErrorLog: discardLog()}) }()
			defer func() { _ = door.Close(); wg.Wait() }()

			c, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			write(t, c, new(frames).preface().settings().headers(0).ack().wire.Bytes())
			_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
			fr := http2.NewFramer(nil, c)
			nonAck := 0
			for {
				f, err := fr.ReadFrame()
				if err != nil {
					t.Fatalf("no MAX_CONCURRENT_STREAMS from the HTTP side: %v", err)
				}
				sf, ok := f.(*http2.SettingsFrame)
				if !ok || sf.IsAck() {
					continue
				}
				if nonAck++; nonAck == 1 {
					continue // the door's own, empty
				}
				if v, ok := sf.Value(http2.SettingMaxConcurrentStreams); ok {
					if v != tt.want {
						t.Fatalf("MAX_CONCURRENT_STREAMS = %d, want %d", v, tt.want)
					}
					return
				}
			}
		})
	}
}
