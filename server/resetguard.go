package server

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"
)

// A client can make the gateway start work and walk away at once: an
// HTTP/2 HEADERS frame followed by RST_STREAM costs the client two small
// frames and the gateway a handler, routing, the policies and possibly an
// upstream call ("rapid reset", CVE-2023-44487). grpc-go's server and
// net/http's bound how many such handlers run at once, not how many a
// connection may start one after the other. The reset guard bounds that:
// each net/http connection may abandon calls (its request context ends
// while the handler still runs, and the gateway is not shutting down) at a
// sustained rate and burst; a connection past them is closed, as one
// doing nothing but starting and abandoning work.

// Reset guard defaults: a burst of resetBurst abandoned calls, refilled at
// resetRate per second. Browsers and clients cancel calls too, but not
// hundreds a second on one connection.
const (
	resetBurst = 200
	resetRate  = 50
)

type resetGuardKey struct{}

// resetGuard counts the calls one connection abandoned, as a token
// bucket.
type resetGuard struct {
	conn   net.Conn
	logger *slog.Logger

	mu     sync.Mutex
	tokens float64
	last   time.Time
	closed bool
}

// withResetGuard is the http.Server's ConnContext: every connection gets
// its guard.
func withResetGuard(logger *slog.Logger) func(ctx context.Context, c net.Conn) context.Context {
	return func(ctx context.Context, c net.Conn) context.Context {
		return context.WithValue(ctx, resetGuardKey{}, &resetGuard{conn: c, logger: logger, tokens: resetBurst, last: time.Now()})
	}
}

// abandoned notes that a call on the guard's connection was abandoned by
// its client, and closes the connection once it abandoned too many.
func (g *resetGuard) abandoned() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return
	}
	now := time.Now()
	g.tokens = min(resetBurst, g.tokens+now.Sub(g.last).Seconds()*resetRate)
	g.last = now
	g.tokens--
	if g.tokens >= 0 {
		return
	}
	g.closed = true
	g.logger.Warn("closing a connection that abandons calls as fast as it starts them (rapid reset)",
		"peer", g.conn.RemoteAddr().String(), "burst", resetBurst, "per_second", resetRate)
	_ = g.conn.Close()
}

// noteAbandoned charges the request's connection if its client went away
// before the handler finished (while the gateway was not shutting down).
func noteAbandoned(r *http.Request, shuttingDown bool) {
	ctx := r.Context()
	if ctx.Err() == nil || shuttingDown {
		return
	}
	if g, ok := ctx.Value(resetGuardKey{}).(*resetGuard); ok {
		g.abandoned()
	}
}
