package frontdoor

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"
)

// A Door owns a listener and routes each accepted connection to the gRPC
// side ([Door.GRPC]) or the HTTP side ([Door.ServeHTTP]). Its methods
// are safe for concurrent use. A typical life:
//
//	go grpcServer.Serve(door.GRPC())
//	go door.ServeHTTP(httpServer)
//	go door.Serve()
//	...
//	door.Shutdown(ctx)        // HTTP side drained
//	grpcServer.GracefulStop() // gRPC side drained
type Door struct {
	ln  net.Listener
	cfg config
	tls *tls.Config // nil for cleartext

	grpc *chanListener // gRPC conns, for grpc.Server.Serve
	http *chanListener // HTTP/1.x and HTTP/2 conns, for http.Server.Serve

	done      chan struct{} // closed when Close or Shutdown begins
	closeLn   sync.Once
	closeLnEr error
	sniffers  sync.WaitGroup // Serve's per-connection goroutines

	mu        sync.Mutex
	serving   bool         // Serve was called
	closing   bool         // done is closed
	httpSrv   *http.Server // the door's own copy, see ServeHTTP
	conns     map[*trackedConn]struct{}
	httpConns int           // tracked conns not given to gRPC
	drained   chan struct{} // closed when httpConns reaches 0
}

// New returns a door accepting from ln; it takes ln over (Close closes it).
// Nothing is accepted until [Door.Serve] runs.
func New(ln net.Listener, opts ...Option) (*Door, error) {
	if ln == nil {
		return nil, errors.New("frontdoor: nil listener")
	}
	cfg := defaultConfig()
	for _, o := range opts {
		o.apply(&cfg)
	}
	if cfg.sniffTimeout <= 0 {
		return nil, fmt.Errorf("frontdoor: sniff timeout must be positive, got %v", cfg.sniffTimeout)
	}
	if cfg.logger == nil {
		cfg.logger = defaultConfig().logger
	}
	d := &Door{
		ln:    ln,
		cfg:   cfg,
		grpc:  newChanListener(ln.Addr()),
		http:  newChanListener(ln.Addr()),
		done:  make(chan struct{}),
		conns: make(map[*trackedConn]struct{}),
	}
	if cfg.tls != nil {
		t, err := serverTLSConfig(cfg.tls)
		if err != nil {
			return nil, err
		}
		d.tls = t
	}
	return d, nil
}

// serverTLSConfig clones cfg and makes it offer exactly the protocols the
// door can classify.
func serverTLSConfig(cfg *tls.Config) (*tls.Config, error) {
	if len(cfg.Certificates) == 0 && cfg.GetCertificate == nil && cfg.GetConfigForClient == nil {
		return nil, errors.New("frontdoor: TLS config has no certificate")
	}
	t := cfg.Clone()
	t.NextProtos = []string{"h2", "http/1.1"}
	if get := t.GetConfigForClient; get != nil {
		t.GetConfigForClient = func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
			c, err := get(hello)
			if c == nil || err != nil {
				return c, err
			}
			c = c.Clone()
			c.NextProtos = []string{"h2", "http/1.1"}
			return c, nil
		}
	}
	return t, nil
}

// Addr returns the listener's address.
func (d *Door) Addr() net.Addr { return d.ln.Addr() }

// GRPC returns the listener of connections whose first request is native
// gRPC, for grpc.Server.Serve. Its Accept returns an error wrapping
// net.ErrClosed once the door is closed or shut down, or once it is itself
// closed (grpc.Server.Stop does that); closing it does not close the door.
// When the door terminates TLS, give the grpc.Server
// grpc.Creds([TransportCredentials]()) so that peers carry their TLS state.
func (d *Door) GRPC() net.Listener { return d.grpc }

// Serve accepts connections until the door is closed or shut down, then
// returns nil. Each connection is classified in its own goroutine, so a slow
// client never holds up the loop. Temporary accept errors are retried with a
// backoff; any other accept error is returned (the door stays open: Close
// it). Serve may be called once.
func (d *Door) Serve() error {
	d.mu.Lock()
	if d.serving {
		d.mu.Unlock()
		return errors.New("frontdoor: Serve called twice")
	}
	d.serving = true
	d.mu.Unlock()

	var delay time.Duration
	for {
		c, err := d.ln.Accept()
		if err != nil {
			if d.isClosing() {
				return nil
			}
			if !isTemporary(err) {
				return fmt.Errorf("frontdoor: accept: %w", err)
			}
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			d.cfg.logger.Error("frontdoor: accept", "error", err, "retry_in", delay)
			t := time.NewTimer(delay)
			select {
			case <-t.C:
			case <-d.done:
				t.Stop()
				return nil
			}
			continue
		}
		delay = 0
		tc := d.track(c)
		if tc == nil {
			continue // closing: the next Accept fails
		}
		go d.handle(tc)
	}
}

func isTemporary(err error) bool {
	var t interface{ Temporary() bool }
	return errors.As(err, &t) && t.Temporary()
}

// handle classifies one connection and hands it on.
func (d *Door) handle(tc *trackedConn) {
	defer d.sniffers.Done()
	c, s, err := d.classify(tc)
	if err != nil {
		d.cfg.logger.Debug("frontdoor: dropped connection", "remote", tc.RemoteAddr(), "error", err)
		_ = tc.Close()
		return
	}
	if err := c.SetDeadline(time.Time{}); err != nil {
		_ = tc.Close()
		return
	}
	if s == sideGRPC {
		d.setState(tc, stateGRPC)
		d.grpc.deliver(c)
		return
	}
	d.setState(tc, stateHTTP)
	d.http.deliver(c)
}

// track registers a fresh connection, or closes it and returns nil if the
// door is closing.
func (d *Door) track(c net.Conn) *trackedConn {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closing {
		_ = c.Close()
		return nil
	}
	tc := &trackedConn{Conn: c, door: d}
	d.conns[tc] = struct{}{}
	d.httpConns++
	d.sniffers.Add(1)
	return tc
}

func (d *Door) untrack(tc *trackedConn) {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.conns, tc)
	if tc.state != stateGRPC {
		d.decHTTPLocked()
	}
}

func (d *Door) setState(tc *trackedConn, s connState) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.conns[tc]; !ok {
		return // already closed
	}
	if s == stateGRPC && tc.state != stateGRPC {
		d.decHTTPLocked()
	}
	tc.state = s
}

func (d *Door) decHTTPLocked() {
	d.httpConns--
	if d.httpConns == 0 && d.drained != nil {
		close(d.drained)
		d.drained = nil
	}
}

// httpDrained returns a channel closed once no connection outside the gRPC
// side is left.
func (d *Door) httpDrained() <-chan struct{} {
	d.mu.Lock()
	defer d.mu.Unlock()
	ch := make(chan struct{})
	if d.httpConns == 0 {
		close(ch)
		return ch
	}
	if d.drained == nil {
		d.drained = ch
	}
	return d.drained
}

func (d *Door) isClosing() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.closing
}

// beginClose stops new connections and returns the HTTP server, if any.
func (d *Door) beginClose() *http.Server {
	d.mu.Lock()
	if !d.closing {
		d.closing = true
		close(d.done)
	}
	srv := d.httpSrv
	d.mu.Unlock()
	d.closeLn.Do(func() {
		if err := d.ln.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			d.closeLnEr = err
		}
	})
	d.grpc.Close()
	d.http.Close()
	return srv
}

// closeConns closes the tracked connections outside the gRPC side; with
// sniffingOnly, only those not yet classified.
func (d *Door) closeConns(sniffingOnly bool) {
	d.mu.Lock()
	var cs []*trackedConn
	for tc := range d.conns {
		if tc.state == stateSniffing || (!sniffingOnly && tc.state == stateHTTP) {
			cs = append(cs, tc)
		}
	}
	d.mu.Unlock()
	for _, tc := range cs {
		_ = tc.Close()
	}
}

// Shutdown stops accepting and drains the HTTP side: HTTP/1 connections
// close once their request in flight is answered, HTTP/2 ones are sent
// GOAWAY and close once their streams finish, and connections still being
// classified are closed (no request of theirs has been served). Connections
// hijacked from the HTTP server are waited for too. When ctx ends first,
// every remaining HTTP-side connection is closed and ctx's error returned.
// gRPC connections are left to the caller's grpc.Server.GracefulStop;
// GRPC's Accept fails from now on.
func (d *Door) Shutdown(ctx context.Context) error {
	srv := d.beginClose()
	d.closeConns(true)

	var err error
	if srv != nil {
		// Sends GOAWAY and waits for the connections net/http tracks.
		err = srv.Shutdown(ctx)
	}
	if err == nil {
		select {
		case <-d.httpDrained():
		case <-ctx.Done():
			err = ctx.Err()
		}
	}
	if err != nil {
		if srv != nil {
			_ = srv.Close()
		}
		d.closeConns(false)
	}
	d.sniffers.Wait()
	if err != nil {
		return err
	}
	return d.closeLnEr
}

// Close closes the listener and every connection outside the gRPC side at
// once; Serve, ServeHTTP and GRPC's Accept return. Connections already
// given to the grpc.Server are its own: Stop it.
func (d *Door) Close() error {
	srv := d.beginClose()
	if srv != nil {
		_ = srv.Close()
	}
	d.closeConns(false)
	d.sniffers.Wait()
	return d.closeLnEr
}
