package frontdoor

import (
	"net"
	"sync"
)

// chanListener is a net.Listener fed by the door's sniffing goroutines. One
// exists per side: the gRPC server's and the HTTP server's.
type chanListener struct {
	addr net.Addr
	ch   chan net.Conn
	done chan struct{}
	once sync.Once
}

var _ net.Listener = (*chanListener)(nil)

func newChanListener(addr net.Addr) *chanListener {
	return &chanListener{addr: addr, ch: make(chan net.Conn), done: make(chan struct{})}
}

// Accept returns the next classified connection. Once the listener or the
// door is closed it returns an error wrapping net.ErrClosed.
func (l *chanListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		select {
		case <-l.done: // lost a race with Close: don't hand out conns after it
			_ = c.Close()
			return nil, l.closedErr()
		default:
			return c, nil
		}
	case <-l.done:
		return nil, l.closedErr()
	}
}

// Close stops Accept; conns offered afterwards are closed. It closes only
// this listener, not the door: grpc.Server.Stop calls it.
func (l *chanListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

// Addr returns the door's address.
func (l *chanListener) Addr() net.Addr { return l.addr }

// deliver blocks until c is accepted or the listener is closed, in which
// case it closes c.
func (l *chanListener) deliver(c net.Conn) {
	select {
	case <-l.done:
		_ = c.Close()
		return
	default:
	}
	select {
	case l.ch <- c:
	case <-l.done:
		_ = c.Close()
	}
}

func (l *chanListener) closedErr() error {
	return &net.OpError{Op: "accept", Net: l.addr.Network(), Addr: l.addr, Err: net.ErrClosed}
}
