package main

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Option configures a Relay.
type Option interface{ apply(*config) }

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

type config struct {
	upstreamConns int
	streamWindow  int64
	connWindow    int64
	maxStreams    uint32
	dialTimeout   time.Duration
}

// WithUpstreamConns sets how many HTTP/2 connections carry the streams to
// the upstream (round-robin; default 1). Each is dialled when first needed
// and again after it closed.
func WithUpstreamConns(n int) Option { return optionFunc(func(c *config) { c.upstreamConns = n }) }

// WithStreamWindow sets the flow-control window the relay advertises for
// each stream, on both legs (default 1 MiB). It bounds what the relay holds
// for one stream in one direction.
func WithStreamWindow(n int) Option { return optionFunc(func(c *config) { c.streamWindow = int64(n) }) }

// WithConnWindow sets the flow-control window the relay advertises for each
// connection (default 16 MiB). It bounds what the relay holds for all the
// streams of one connection in one direction.
func WithConnWindow(n int) Option { return optionFunc(func(c *config) { c.connWindow = int64(n) }) }

// WithMaxStreams sets SETTINGS_MAX_CONCURRENT_STREAMS advertised to
// clients (default 1024).
func WithMaxStreams(n uint32) Option { return optionFunc(func(c *config) { c.maxStreams = n }) }

// Protocol limits (RFC 9113).
const (
	initialWindow = 65535     // every window before SETTINGS or WINDOW_UPDATE
	maxWindow     = 1<<31 - 1 // the largest window a peer may grant
	maxStreamID   = 1<<31 - 1
	frameSize     = 16384 // SETTINGS_MAX_FRAME_SIZE we accept (the default)
)

// Relay relays h2c gRPC connections to one upstream address at the HTTP/2
// frame level. Serve may be called for several listeners; Close stops
// them all and waits for every goroutine the relay started.
type Relay struct {
	upstream string
	cfg      config

	mu        sync.Mutex
	closed    bool
	listeners map[net.Listener]struct{}
	conns     map[*conn]struct{}
	pool      []*conn // upstream connections; nil or dead slots are dialled again
	next      int     // round-robin position in pool
	wg        sync.WaitGroup

	stats stats
}

// stats are the relay's flow-control high-water marks, read by the tests
// to check that what the relay holds stays within the windows it
// advertised.
type stats struct {
	queued          atomic.Int64 // bytes waiting for a destination's window, all streams
	peakStreamQueue atomic.Int64 // the most one stream ever held in one direction
	peakConnQueue   atomic.Int64 // the most all the streams toward one connection ever held
}

func raise(peak *atomic.Int64, v int64) {
	for {
		p := peak.Load()
		if v <= p || peak.CompareAndSwap(p, v) {
			return
		}
	}
}

// NewRelay returns a relay to the h2c upstream at address.
func NewRelay(upstream string, opts ...Option) (*Relay, error) {
	cfg := config{upstreamConns: 1, streamWindow: 1 << 20, connWindow: 16 << 20, maxStreams: 1024, dialTimeout: 5 * time.Second}
	for _, o := range opts {
		o.apply(&cfg)
	}
	var errs []error
	if upstream == "" {
		errs = append(errs, errors.New("upstream address is empty"))
	}
	if cfg.upstreamConns < 1 {
		errs = append(errs, fmt.Errorf("upstream connections %d: want at least 1", cfg.upstreamConns))
	}
	if cfg.streamWindow < initialWindow || cfg.streamWindow > maxWindow {
		errs = append(errs, fmt.Errorf("stream window %d: want %d to %d", cfg.streamWindow, initialWindow, maxWindow))
	}
	if cfg.connWindow < initialWindow || cfg.connWindow > maxWindow {
		errs = append(errs, fmt.Errorf("connection window %d: want %d to %d", cfg.connWindow, initialWindow, maxWindow))
	}
	if cfg.maxStreams < 1 {
		errs = append(errs, errors.New("max streams: want at least 1"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return &Relay{
		upstream: upstream, cfg: cfg,
		listeners: map[net.Listener]struct{}{}, conns: map[*conn]struct{}{},
		pool: make([]*conn, cfg.upstreamConns),
	}, nil
}

// Serve accepts client connections on ln until ln fails or the relay is
// closed (then it returns nil).
func (r *Relay) Serve(ln net.Listener) error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		ln.Close()
		return nil
	}
	r.listeners[ln] = struct{}{}
	r.mu.Unlock()
	for {
		nc, err := ln.Accept()
		if err != nil {
			r.mu.Lock()
			closed := r.closed
			delete(r.listeners, ln)
			r.mu.Unlock()
			if closed {
				return nil
			}
			return fmt.Errorf("accept: %w", err)
		}
		c := newConn(r, nc, roleDown)
		if !r.track(c) {
			return nil
		}
		go c.serve()
	}
}

// track registers a connection and counts its reader goroutine; it reports
// false (and closes the connection) when the relay is closed.
func (r *Relay) track(c *conn) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		c.nc.Close()
		return false
	}
	r.conns[c] = struct{}{}
	r.wg.Add(1)
	return true
}

// forget drops a connection that has been torn down.
func (r *Relay) forget(c *conn) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.conns, c)
	for i, p := range r.pool {
		if p == c {
			r.pool[i] = nil
		}
	}
}

// Close stops accepting, closes every connection (their streams end
// abruptly) and waits for the relay's goroutines. It is safe to call more
// than once.
func (r *Relay) Close() {
	r.mu.Lock()
	r.closed = true
	for ln := range r.listeners {
		ln.Close()
	}
	for c := range r.conns {
		c.nc.Close()
	}
	r.mu.Unlock()
	r.wg.Wait()
}

// pickUpstream returns an upstream connection for a new stream: the next
// one round-robin for a stream's first try, the following ones (tried > 0)
// after connections found at their stream limit. An empty or unusable
// slot is dialled again.
func (r *Relay) pickUpstream(tried int) (*conn, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, errors.New("relay closed")
	}
	i := (r.next + tried) % len(r.pool)
	if tried == 0 {
		r.next = (r.next + 1) % len(r.pool)
	}
	if c := r.pool[i]; c != nil && !c.unusable.Load() {
		return c, nil
	}
	// Dialled under r.mu: dials are rare (start, and after a connection
	// closed) and concurrent streams then wait for the one dial.
	nc, err := net.DialTimeout("tcp", r.upstream, r.cfg.dialTimeout)
	if err != nil {
		return nil, fmt.Errorf("dial upstream %s: %w", r.upstream, err)
	}
	c := newConn(r, nc, roleUp)
	if err := c.startClient(); err != nil {
		nc.Close()
		return nil, fmt.Errorf("upstream %s: %w", r.upstream, err)
	}
	r.conns[c] = struct{}{}
	r.wg.Add(1)
	r.pool[i] = c
	go c.serve()
	return c, nil
}
