package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// role is which end of the HTTP/2 connection the relay is.
type role int8

const (
	roleDown role = iota // a client's connection: the relay is the server
	roleUp               // an upstream connection: the relay is the client
)

const (
	ioBufferSize   = 64 << 10
	prefaceTimeout = 10 * time.Second
)

// conn is one HTTP/2 connection of the relay, to a client or to the
// upstream. Its reader goroutine (serve) is the only one that reads it;
// any reader may write to it, holding mu.
type conn struct {
	r    *Relay
	role role
	nc   net.Conn
	br   *bufio.Reader
	fr   *http2.Framer // reads from br (reader only); writes to bw (under mu)

	// unusable is set once the connection must take no new stream (closed,
	// GOAWAY received, stream ids used up): the pool dials another.
	unusable atomic.Bool

	// Reader-only state.
	gotSettings bool
	lastPeerID  uint32  // highest stream id the client opened (roleDown)
	dirty       []*conn // connections this reader wrote to and has not flushed
	credits     []credit

	mu      sync.Mutex
	bw      *bufio.Writer
	henc    *hpack.Encoder
	hbuf    bytes.Buffer
	closed  bool  // torn down: nothing is written any more
	werr    error // the first write error
	streams map[uint32]*side
	nextID  uint32 // next stream id to open (roleUp)
	// What the relay may send the peer.
	window         int64 // connection send window
	peerInitWindow int64
	peerMaxFrame   int
	peerMaxStreams uint32
	blocked        []*side // sides with DATA waiting for the connection window
	// What the peer may send the relay.
	recvWindow int64 // connection receive window left
	unacked    int64 // received bytes relayed (or dropped) and not yet returned by WINDOW_UPDATE
	queued     int64 // bytes waiting for this peer's windows, all streams
}

// credit is flow-control credit to return to the sender of relayed bytes.
type credit struct {
	s *side
	n int64
}

func newConn(r *Relay, nc net.Conn, ro role) *conn {
	c := &conn{
		r: r, role: ro, nc: nc,
		br:      bufio.NewReaderSize(nc, ioBufferSize),
		bw:      bufio.NewWriterSize(nc, ioBufferSize),
		streams: map[uint32]*side{},
		nextID:  1,
		window:  initialWindow, peerInitWindow: initialWindow, peerMaxFrame: frameSize, peerMaxStreams: math.MaxUint32,
		recvWindow: r.cfg.connWindow,
	}
	c.henc = hpack.NewEncoder(&c.hbuf)
	c.fr = http2.NewFramer(c.bw, c.br)
	c.fr.SetReuseFrames()
	c.fr.SetMaxReadFrameSize(frameSize)
	c.fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	return c
}

// settings are what the relay announces on either leg: its windows, and
// no server push.
func (c *conn) writeSettingsLocked() {
	s := []http2.Setting{{ID: http2.SettingInitialWindowSize, Val: uint32(c.r.cfg.streamWindow)}}
	if c.role == roleDown {
		s = append(s, http2.Setting{ID: http2.SettingMaxConcurrentStreams, Val: c.r.cfg.maxStreams})
	} else {
		s = append(s, http2.Setting{ID: http2.SettingEnablePush, Val: 0})
	}
	c.wrote(c.fr.WriteSettings(s...))
	if inc := c.r.cfg.connWindow - initialWindow; inc > 0 {
		c.wrote(c.fr.WriteWindowUpdate(0, uint32(inc)))
	}
}

// startClient opens an upstream connection: the preface and SETTINGS,
// flushed. Streams may be opened right away (RFC 9113 3.4).
func (c *conn) startClient() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, err := io.WriteString(c.bw, http2.ClientPreface); err != nil {
		return err
	}
	c.writeSettingsLocked()
	if c.werr == nil {
		c.wrote(c.bw.Flush())
	}
	return c.werr
}

// serve is the connection's reader goroutine: handshake (client
// connections), then frames until the connection fails, then teardown.
func (c *conn) serve() {
	defer c.r.wg.Done()
	err := c.handshake()
	if err == nil {
		err = c.readLoop()
	}
	c.teardown(err)
}

func (c *conn) handshake() error {
	if c.role != roleDown {
		return nil
	}
	_ = c.nc.SetReadDeadline(time.Now().Add(prefaceTimeout))
	var p [len(http2.ClientPreface)]byte
	if _, err := io.ReadFull(c.br, p[:]); err != nil {
		return fmt.Errorf("read preface: %w", err)
	}
	if string(p[:]) != http2.ClientPreface {
		return errors.New("bad client preface")
	}
	_ = c.nc.SetReadDeadline(time.Time{})
	c.mu.Lock()
	c.writeSettingsLocked()
	c.mu.Unlock()
	c.touch(c)
	return nil
}

// connError is an HTTP/2 connection error: GOAWAY with code, then close.
type connError struct {
	code   http2.ErrCode
	reason string
}

func (e connError) Error() string { return fmt.Sprintf("connection error %v: %s", e.code, e.reason) }

func (c *conn) readLoop() error {
	for {
		// Batch while the next frame is already buffered; flush what this
		// reader wrote before it may block on the socket.
		if !c.frameBuffered() {
			c.flushDirty()
		}
		f, err := c.fr.ReadFrame()
		if err != nil {
			var se http2.StreamError
			if errors.As(err, &se) {
				if c.role == roleDown && se.StreamID%2 == 1 && se.StreamID > c.lastPeerID {
					c.lastPeerID = se.StreamID // a request with invalid headers: opened, and reset
				}
				c.streamError(se.StreamID, se.Code)
				continue
			}
			var ce http2.ConnectionError
			switch {
			case errors.As(err, &ce):
				err = connError{http2.ErrCode(ce), "invalid frame"}
				if d := c.fr.ErrorDetail(); d != nil {
					err = connError{http2.ErrCode(ce), d.Error()}
				}
			case errors.Is(err, http2.ErrFrameTooLarge):
				err = connError{http2.ErrCodeFrameSize, "frame too large"}
			}
			return err
		}
		if !c.gotSettings {
			if sf, ok := f.(*http2.SettingsFrame); !ok || sf.IsAck() {
				return connError{http2.ErrCodeProtocol, "first frame is not SETTINGS"}
			}
		}
		if err := c.handle(f); err != nil {
			return err
		}
	}
}

// frameBuffered reports whether a whole frame (a whole header block, for
// HEADERS) is in the read buffer, so reading it will not block.
func (c *conn) frameBuffered() bool {
	n := c.br.Buffered()
	if n < 9 {
		return false
	}
	h, _ := c.br.Peek(9)
	if http2.FrameType(h[3]) == http2.FrameHeaders && http2.Flags(h[4])&http2.FlagHeadersEndHeaders == 0 {
		return false
	}
	return n >= 9+(int(h[0])<<16|int(h[1])<<8|int(h[2]))
}

func (c *conn) handle(f http2.Frame) error {
	switch f := f.(type) {
	case *http2.DataFrame:
		return c.onData(f)
	case *http2.MetaHeadersFrame:
		return c.onHeaders(f)
	case *http2.WindowUpdateFrame:
		return c.onWindowUpdate(f)
	case *http2.RSTStreamFrame:
		return c.onReset(f)
	case *http2.SettingsFrame:
		return c.onSettings(f)
	case *http2.PingFrame:
		if !f.IsAck() {
			c.mu.Lock()
			c.wrote(c.fr.WritePing(true, f.Data))
			c.mu.Unlock()
			c.touch(c)
		}
	case *http2.GoAwayFrame:
		c.onGoAway(f)
	case *http2.PushPromiseFrame:
		return connError{http2.ErrCodeProtocol, "PUSH_PROMISE with push disabled"}
	}
	// PRIORITY and unknown frame types are ignored.
	return nil
}

func (c *conn) onSettings(f *http2.SettingsFrame) error {
	if f.IsAck() {
		return nil
	}
	if err := f.ForeachSetting(func(s http2.Setting) error { return s.Valid() }); err != nil {
		return connError{http2.ErrCodeProtocol, err.Error()}
	}
	c.gotSettings = true
	c.mu.Lock()
	var delta int64
	_ = f.ForeachSetting(func(s http2.Setting) error {
		switch s.ID {
		case http2.SettingInitialWindowSize:
			delta = int64(s.Val) - c.peerInitWindow
			c.peerInitWindow = int64(s.Val)
		case http2.SettingMaxFrameSize:
			c.peerMaxFrame = int(s.Val)
		case http2.SettingHeaderTableSize:
			c.henc.SetMaxDynamicTableSizeLimit(s.Val)
		case http2.SettingMaxConcurrentStreams:
			c.peerMaxStreams = s.Val
		}
		return nil
	})
	credits := c.credits[:0]
	if delta != 0 {
		// A new initial window changes every open stream's window by the
		// difference (RFC 9113 6.9.2); a larger one may release queued DATA.
		for _, s := range c.streams {
			s.window += delta
			if s.window > maxWindow {
				c.mu.Unlock()
				return connError{http2.ErrCodeFlowControl, "initial window overflows a stream window"}
			}
			if delta > 0 && len(s.queue) > 0 {
				if n := c.drainLocked(s); n > 0 {
					credits = append(credits, credit{s.other, n})
				}
			}
		}
	}
	c.wrote(c.fr.WriteSettingsAck())
	c.mu.Unlock()
	c.touch(c)
	c.credits = c.returnCredits(credits)
	return nil
}

func (c *conn) onGoAway(f *http2.GoAwayFrame) {
	if c.role != roleUp {
		return // a client going away opens no new stream; its open ones finish
	}
	// The upstream will take no new stream: the pool dials another. Streams
	// above its last processed id were not processed: the client may retry
	// them (REFUSED_STREAM).
	c.unusable.Store(true)
	c.mu.Lock()
	var refused []*side
	for id, s := range c.streams {
		if id > f.LastStreamID {
			refused = append(refused, s)
		}
	}
	c.mu.Unlock()
	for _, s := range refused {
		c.resetStream(s, false, 0, http2.ErrCodeRefusedStream)
	}
}

// wrote records the first write error; the connection is then closed, its
// reader fails and tears it down. Called with mu held.
func (c *conn) wrote(err error) {
	if err != nil && c.werr == nil {
		c.werr = err
		c.nc.Close()
	}
}

// dead reports whether nothing may be written any more. Called with mu
// held.
func (c *conn) dead() bool { return c.closed || c.werr != nil }

// touch records that this reader wrote to d: d is flushed before this
// reader next blocks.
func (c *conn) touch(d *conn) {
	for _, x := range c.dirty {
		if x == d {
			return
		}
	}
	c.dirty = append(c.dirty, d)
}

func (c *conn) flushDirty() {
	for i, d := range c.dirty {
		d.mu.Lock()
		if !d.dead() && d.bw.Buffered() > 0 {
			d.wrote(d.bw.Flush())
		}
		d.mu.Unlock()
		c.dirty[i] = nil
	}
	c.dirty = c.dirty[:0]
}

// teardown ends a connection whose reader stopped: GOAWAY when it was a
// protocol error, then every stream is ended on its other leg.
func (c *conn) teardown(err error) {
	c.unusable.Store(true)
	c.r.forget(c)
	c.mu.Lock()
	var ce connError
	if errors.As(err, &ce) && !c.dead() {
		c.wrote(c.fr.WriteGoAway(c.lastPeerID, ce.code, []byte(ce.reason)))
		if c.werr == nil {
			c.wrote(c.bw.Flush())
		}
	}
	if ce.code != 0 || (err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed)) {
		fmt.Fprintf(os.Stderr, "h2relay: %s connection %s: %v\n", map[role]string{roleDown: "client", roleUp: "upstream"}[c.role], c.nc.RemoteAddr(), err)
	}
	c.closed = true
	sides := make([]*side, 0, len(c.streams))
	for _, s := range c.streams {
		sides = append(sides, s)
	}
	clear(c.streams)
	type ended struct {
		s       *side
		dropped int64 // DATA from the other leg that never reached this peer
		done    bool  // this peer had sent all of its half
	}
	ends := make([]ended, 0, len(sides))
	for _, s := range sides {
		ends = append(ends, ended{s, c.dropQueueLocked(s), s.recvEnded})
		s.closed = true
	}
	c.mu.Unlock()
	c.nc.Close()
	for _, e := range ends {
		o := e.s.other
		if o == nil {
			continue
		}
		oc := o.c
		oc.mu.Lock()
		oc.creditLocked(o, e.dropped)
		oc.abandonLocked(o, c.role, e.done)
		oc.mu.Unlock()
		c.touch(oc)
	}
	c.flushDirty()
}
