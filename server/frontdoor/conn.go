package frontdoor

import (
	"crypto/tls"
	"net"
	"sync"
	"sync/atomic"
)

// connState says who owns a tracked connection; it is guarded by Door.mu.
type connState int

const (
	stateSniffing connState = iota // the door is still classifying it
	stateHTTP                      // handed (or being handed) to the HTTP side
	stateGRPC                      // handed (or being handed) to the gRPC side
)

// trackedConn is every accepted connection, at the bottom of any TLS or
// replay wrapping, so that the door can close whatever is left of the HTTP
// side when a shutdown deadline passes, hijacked connections included.
type trackedConn struct {
	net.Conn
	door  *Door
	once  sync.Once
	state connState // guarded by door.mu
}

func (c *trackedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.door.untrack(c) })
	return err
}

// replayConn returns the bytes consumed while sniffing before reading on from
// the connection, so that the server taking it sees the stream from byte 0.
type replayConn struct {
	net.Conn
	drained atomic.Bool // fast path once buf is empty
	mu      sync.Mutex
	buf     []byte
}

func newReplayConn(c net.Conn, buf []byte) *replayConn {
	r := &replayConn{Conn: c, buf: buf}
	r.drained.Store(len(buf) == 0)
	return r
}

func (c *replayConn) Read(p []byte) (int, error) {
	if !c.drained.Load() {
		c.mu.Lock()
		if len(c.buf) > 0 {
			n := copy(p, c.buf)
			c.buf = c.buf[n:]
			if len(c.buf) == 0 {
				c.buf = nil
				c.drained.Store(true)
			}
			c.mu.Unlock()
			return n, nil
		}
		c.mu.Unlock()
	}
	return c.Conn.Read(p)
}

// grpcTLSConn is a replayConn over a *tls.Conn, for the gRPC side. It
// exposes ConnectionState, which [TransportCredentials] reads to build the
// peer's AuthInfo.
type grpcTLSConn struct {
	*replayConn
	tls *tls.Conn
}

// ConnectionState returns the state of the terminated TLS connection.
func (c *grpcTLSConn) ConnectionState() tls.ConnectionState { return c.tls.ConnectionState() }

// h2TLSConn is a replayConn over a *tls.Conn speaking HTTP/2, for the HTTP
// side. It deliberately lacks a ConnectionState method: net/http would then
// take it for TLS and parse it as HTTP/1.1, while without one it serves it
// as HTTP/2 with prior knowledge. Its requests get their Request.TLS from
// the door instead (see tlsStateHandler).
type h2TLSConn struct {
	*replayConn
	tls *tls.Conn
}
