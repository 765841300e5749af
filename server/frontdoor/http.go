package frontdoor

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
)

// ServeHTTP serves the HTTP side until the door is closed or shut down,
// then returns nil. Every HTTP-side connection, HTTP/1.x or HTTP/2 (h2 over
// TLS, or cleartext with prior knowledge), is served by net/http's own
// server, so that its graceful shutdown covers both.
//
// srv is configuration, not a server to start: the door serves a copy of it
// carrying its Handler, timeouts, MaxHeaderBytes, HTTP2 settings, ErrorLog,
// ConnState, BaseContext, ConnContext and DisableGeneralOptionsHandler. The
// copy allows HTTP/1 and HTTP/2 unless srv.Protocols turns either off.
// srv.Addr, srv.TLSConfig and srv.TLSNextProto are not used: the door owns
// the listener and TLS. Stop it with [Door.Shutdown] or [Door.Close];
// functions registered with srv.RegisterOnShutdown are not run.
//
// Requests on a TLS connection always have Request.TLS set.
//
// ServeHTTP may be called once per door, before or after Serve; HTTP-side
// connections classified before it runs wait for it (or for the door to
// close). It is not an http.Handler method, despite the name.
func (d *Door) ServeHTTP(srv *http.Server) error {
	if srv == nil {
		return errors.New("frontdoor: nil http.Server")
	}
	hs := d.httpServer(srv)
	d.mu.Lock()
	switch {
	case d.closing:
		d.mu.Unlock()
		return nil
	case d.httpSrv != nil:
		d.mu.Unlock()
		return errors.New("frontdoor: ServeHTTP called twice")
	}
	d.httpSrv = hs
	d.mu.Unlock()

	err := hs.Serve(d.http)
	if errors.Is(err, http.ErrServerClosed) || errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

// httpServer returns the server that ServeHTTP runs for srv.
func (d *Door) httpServer(srv *http.Server) *http.Server {
	var protos http.Protocols
	protos.SetHTTP1(true)
	protos.SetUnencryptedHTTP2(true)
	if p := srv.Protocols; p != nil {
		protos.SetHTTP1(p.HTTP1())
		protos.SetUnencryptedHTTP2(p.HTTP2() || p.UnencryptedHTTP2())
	}
	hs := &http.Server{
		Handler:                      srv.Handler,
		DisableGeneralOptionsHandler: srv.DisableGeneralOptionsHandler,
		ReadTimeout:                  srv.ReadTimeout,
		ReadHeaderTimeout:            srv.ReadHeaderTimeout,
		WriteTimeout:                 srv.WriteTimeout,
		IdleTimeout:                  srv.IdleTimeout,
		MaxHeaderBytes:               srv.MaxHeaderBytes,
		HTTP2:                        srv.HTTP2,
		// HTTP/2 over TLS reaches net/http as prior-knowledge HTTP/2 on a
		// conn without ConnectionState (see h2TLSConn): it is "unencrypted"
		// only as far as net/http can tell.
		Protocols:   &protos,
		ConnState:   srv.ConnState,
		ErrorLog:    srv.ErrorLog,
		BaseContext: srv.BaseContext,
		ConnContext: srv.ConnContext,
	}
	if d.tls == nil {
		return hs
	}
	h := hs.Handler
	if h == nil {
		h = http.DefaultServeMux
	}
	hs.Handler = tlsStateHandler{h}
	cc := hs.ConnContext
	hs.ConnContext = func(ctx context.Context, c net.Conn) context.Context {
		if cc != nil {
			ctx = cc(ctx, c)
		}
		if t, ok := c.(*h2TLSConn); ok {
			st := t.tls.ConnectionState()
			ctx = context.WithValue(ctx, tlsStateKey{}, &st)
		}
		return ctx
	}
	return hs
}

type tlsStateKey struct{}

// tlsStateHandler sets Request.TLS on requests from h2TLSConns, which
// net/http cannot know are TLS, as net/http itself does for the h2
// connections it terminates: like it, every request of a connection
// shares the one state read at ConnContext.
type tlsStateHandler struct{ h http.Handler }

func (t tlsStateHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.TLS == nil {
		if st, ok := r.Context().Value(tlsStateKey{}).(*tls.ConnectionState); ok {
			r.TLS = st
		}
	}
	t.h.ServeHTTP(w, r)
}
