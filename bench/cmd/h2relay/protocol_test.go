package main

import (
	"bytes"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// silentUpstream accepts connections and never answers: streams opened on
// it keep the windows HTTP/2 starts with.
func silentUpstream(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
			go func() { _, _ = io.Copy(io.Discard, c) }()
		}
	}()
	t.Cleanup(func() { ln.Close(); <-done })
	return ln.Addr().String()
}

// rawRelay runs a relay to upstream and returns its address.
func rawRelay(t testing.TB, upstream string, opts ...Option) string {
	t.Helper()
	r, err := NewRelay(upstream, opts...)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = r.Serve(ln) }()
	t.Cleanup(r.Close)
	return ln.Addr().String()
}

// rawClient is an HTTP/2 client connection driven frame by frame.
type rawClient struct {
	nc net.Conn
	fr *http2.Framer
}

func dialRaw(t testing.TB, addr string, preface bool) *rawClient {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	_ = nc.SetDeadline(time.Now().Add(failAfter))
	c := &rawClient{nc: nc, fr: http2.NewFramer(nc, nc)}
	if preface {
		if _, err := io.WriteString(nc, http2.ClientPreface); err != nil {
			t.Fatal(err)
		}
		if err := c.fr.WriteSettings(); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

// request writes a gRPC request's HEADERS on stream id.
func (c *rawClient) request(t testing.TB, id uint32) {
	t.Helper()
	var buf bytes.Buffer
	enc := hpack.NewEncoder(&buf)
	for _, f := range [][2]string{{":method", "POST"}, {":scheme", "http"}, {":path", "/grpc.testing.TestService/UnaryCall"},
		{":authority", "relay"}, {"content-type", "application/grpc"}, {"te", "trailers"}} {
		_ = enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
	}
	if err := c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: buf.Bytes(), EndHeaders: true}); err != nil {
		t.Fatal(err)
	}
}

// until reads frames until match returns true, or fails at EOF.
func (c *rawClient) until(t testing.TB, what string, match func(http2.Frame) bool) {
	t.Helper()
	for {
		f, err := c.fr.ReadFrame()
		if err != nil {
			t.Fatalf("waiting for %s: %v", what, err)
		}
		if match(f) {
			return
		}
	}
}

// closed reads until the relay closes the connection.
func (c *rawClient) closed(t testing.TB) {
	t.Helper()
	if _, err := io.Copy(io.Discard, c.nc); err != nil && !errors.Is(err, net.ErrClosed) {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatal("the relay never closed the connection")
		}
	}
}

func TestProtocolErrors(t *testing.T) {
	t.Parallel()
	addr := rawRelay(t, silentUpstream(t), WithStreamWindow(initialWindow))
	goAway := func(code http2.ErrCode) func(http2.Frame) bool {
		return func(f http2.Frame) bool {
			g, ok := f.(*http2.GoAwayFrame)
			return ok && g.ErrCode == code
		}
	}
	t.Run("bad preface", func(t *testing.T) {
		t.Parallel()
		c := dialRaw(t, addr, false)
		_, _ = io.WriteString(c.nc, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		c.closed(t)
	})
	t.Run("garbage after the preface", func(t *testing.T) {
		t.Parallel()
		c := dialRaw(t, addr, true)
		_, _ = c.nc.Write(bytes.Repeat([]byte{0xff, 0x00, 0x13}, 1000))
		c.closed(t)
	})
	t.Run("first frame not SETTINGS", func(t *testing.T) {
		t.Parallel()
		c := dialRaw(t, addr, false)
		_, _ = io.WriteString(c.nc, http2.ClientPreface)
		_ = c.fr.WritePing(false, [8]byte{})
		c.until(t, "GOAWAY", goAway(http2.ErrCodeProtocol))
		c.closed(t)
	})
	t.Run("DATA on an idle stream", func(t *testing.T) {
		t.Parallel()
		c := dialRaw(t, addr, true)
		_ = c.fr.WriteData(5, false, []byte("x"))
		c.until(t, "GOAWAY", goAway(http2.ErrCodeProtocol))
		c.closed(t)
	})
	t.Run("even stream id", func(t *testing.T) {
		t.Parallel()
		c := dialRaw(t, addr, true)
		c.request(t, 2)
		c.until(t, "GOAWAY", goAway(http2.ErrCodeProtocol))
		c.closed(t)
	})
	t.Run("invalid request headers reset the stream only", func(t *testing.T) {
		t.Parallel()
		c := dialRaw(t, addr, true)
		var buf bytes.Buffer
		enc := hpack.NewEncoder(&buf)
		_ = enc.WriteField(hpack.HeaderField{Name: ":method", Value: "POST"})
		_ = enc.WriteField(hpack.HeaderField{Name: ":path", Value: "/a/b"})
		_ = enc.WriteField(hpack.HeaderField{Name: ":method", Value: "GET"}) // a duplicate pseudo-header
		if err := c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 3, BlockFragment: buf.Bytes(), EndHeaders: true}); err != nil {
			t.Fatal(err)
		}
		c.until(t, "RST_STREAM PROTOCOL_ERROR", func(f http2.Frame) bool {
			r, ok := f.(*http2.RSTStreamFrame)
			return ok && r.StreamID == 3 && r.ErrCode == http2.ErrCodeProtocol
		})
		// DATA the client sent before it saw the reset is ignored, and the
		// connection still works.
		_ = c.fr.WriteData(3, true, []byte("late"))
		data := [8]byte{9}
		_ = c.fr.WritePing(false, data)
		c.until(t, "PING ack", func(f http2.Frame) bool {
			if g, ok := f.(*http2.GoAwayFrame); ok {
				t.Fatalf("GOAWAY %v", g.ErrCode)
			}
			p, ok := f.(*http2.PingFrame)
			return ok && p.IsAck() && p.Data == data
		})
	})
	t.Run("PING is answered", func(t *testing.T) {
		t.Parallel()
		c := dialRaw(t, addr, true)
		data := [8]byte{1, 2, 3, 4, 5, 6, 7, 8}
		_ = c.fr.WritePing(false, data)
		c.until(t, "PING ack", func(f http2.Frame) bool {
			p, ok := f.(*http2.PingFrame)
			return ok && p.IsAck() && p.Data == data
		})
	})
	t.Run("stream window overrun", func(t *testing.T) {
		t.Parallel()
		// The silent upstream grants no more than HTTP/2's initial 65,535
		// bytes, so of the relay's own 65,535-byte window at most that much
		// comes back: 140,000 bytes overrun it whatever the timing.
		c := dialRaw(t, addr, true)
		c.request(t, 1)
		chunk := make([]byte, 14000)
		for range 10 {
			if err := c.fr.WriteData(1, false, chunk); err != nil {
				break // the relay may have reset and stopped reading already
			}
		}
		c.until(t, "RST_STREAM FLOW_CONTROL_ERROR", func(f http2.Frame) bool {
			r, ok := f.(*http2.RSTStreamFrame)
			return ok && r.StreamID == 1 && r.ErrCode == http2.ErrCodeFlowControl
		})
	})
	t.Run("connection window overrun", func(t *testing.T) {
		t.Parallel()
		// A relay whose connection window is HTTP/2's initial 65,535 bytes
		// and streams' 1 MiB: of the connection window at most the 65,535
		// bytes the silent upstream takes come back, so 15 streams of
		// 10,000 bytes overrun it, each within its stream window.
		c := dialRaw(t, rawRelay(t, silentUpstream(t), WithConnWindow(initialWindow)), true)
		for id := uint32(1); id < 31; id += 2 {
			c.request(t, id)
		}
		chunk := make([]byte, 10000)
		for id := uint32(1); id < 31; id += 2 {
			if err := c.fr.WriteData(id, false, chunk); err != nil {
				break
			}
		}
		c.until(t, "GOAWAY FLOW_CONTROL_ERROR", goAway(http2.ErrCodeFlowControl))
		c.closed(t)
	})
}

// FuzzFrames feeds arbitrary bytes to the relay after a valid preface and
// SETTINGS: it must never panic or hang, and closes the connection when
// the client does.
func FuzzFrames(f *testing.F) {
	var seed bytes.Buffer
	fr := http2.NewFramer(&seed, nil)
	var hb bytes.Buffer
	enc := hpack.NewEncoder(&hb)
	_ = enc.WriteField(hpack.HeaderField{Name: ":method", Value: "POST"})
	_ = enc.WriteField(hpack.HeaderField{Name: ":path", Value: "/a/b"})
	_ = fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: hb.Bytes(), EndHeaders: true})
	_ = fr.WriteData(1, true, []byte{0, 0, 0, 0, 1, 8})
	_ = fr.WriteWindowUpdate(0, 10)
	_ = fr.WriteRSTStream(1, http2.ErrCodeCancel)
	f.Add(seed.Bytes())
	f.Add([]byte{0, 0, 4, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Add([]byte{0, 0, 0, 9, 4, 0, 0, 0, 1})
	addr := rawRelay(f, silentUpstream(f))
	f.Fuzz(func(t *testing.T, in []byte) {
		c := dialRaw(t, addr, true)
		_, _ = c.nc.Write(in)
		_ = c.nc.(*net.TCPConn).CloseWrite()
		c.closed(t)
	})
}
