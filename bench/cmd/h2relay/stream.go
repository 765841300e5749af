package main

import (
	"bytes"
	"strings"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// side is one leg of a relayed stream: the stream id on one connection.
// Every relayed stream is two sides, one on the client's connection and one
// on an upstream connection, each pointing at the other. A side's fields
// are guarded by its connection's mu, so every piece of state has exactly
// one lock: what flows toward a peer (window, queue) and what the peer
// sent (receive window, credit) both belong to the peer's connection.
type side struct {
	c     *conn
	id    uint32
	other *side // set before the side is reachable from the other leg; never changed

	recvEnded   bool // the peer ended its half (END_STREAM) or reset the stream
	sentEnded   bool // the relay ended its half toward the peer (END_STREAM or RST_STREAM)
	closed      bool // gone from c.streams: no more frames either way
	headersSent bool // a HEADERS frame went to the peer (after it, an error is sent as trailers)
	rstAfterEnd bool // the other leg finished early: reset with NO_ERROR once our half is ended
	inBlocked   bool // in c.blocked

	// What the peer may send: the window the relay advertised, less what
	// was received and not yet returned; unacked is what may be returned.
	recv, unacked int64
	// What the relay may send the peer, and what waits for it to grow.
	window int64
	queue  []pending
	queued int64
}

// pending is a frame waiting for the peer's window: DATA, or a trailers
// HEADERS that must not overtake the DATA before it. Header blocks are
// HPACK-encoded only when written, as the encoder's state must follow the
// order on the wire.
type pending struct {
	data   []byte
	fields []hpack.HeaderField
	end    bool
}

// idle reports whether id is a stream the peer may not have used yet
// (RFC 9113 5.1): frames other than a client's HEADERS on it are a
// protocol error. Called by c's reader with c.mu held.
func (c *conn) idleLocked(id uint32) bool {
	if c.role == roleDown {
		return id > c.lastPeerID
	}
	return id%2 == 0 || id >= c.nextID
}

func (c *conn) onHeaders(f *http2.MetaHeadersFrame) error {
	id := f.StreamID
	c.mu.Lock()
	s := c.streams[id]
	idle := c.idleLocked(id)
	c.mu.Unlock()
	if s == nil {
		switch {
		case idle && c.role == roleDown:
			return c.openStream(f)
		case idle:
			return connError{http2.ErrCodeProtocol, "HEADERS on a stream the relay did not open"}
		}
		return nil // a stream the relay reset (decoded all the same: HPACK state stays in step)
	}
	if f.Truncated {
		c.resetStream(s, true, http2.ErrCodeProtocol, http2.ErrCodeCancel)
		return nil
	}
	end := f.StreamEnded()
	c.mu.Lock()
	if s.recvEnded {
		c.mu.Unlock()
		c.resetStream(s, true, http2.ErrCodeStreamClosed, http2.ErrCodeCancel)
		return nil
	}
	s.recvEnded = end
	c.mu.Unlock()
	if o := s.other; o != nil {
		fields := forwardFields(f.Fields)
		oc := o.c
		oc.mu.Lock()
		if !oc.dead() && !o.closed && !o.sentEnded {
			if len(o.queue) > 0 {
				o.queue = append(o.queue, pending{fields: fields, end: end})
			} else {
				oc.writeHeadersLocked(o, fields, end)
				if end {
					oc.endSentLocked(o)
				}
			}
		}
		oc.mu.Unlock()
		c.touch(oc)
	}
	if end {
		c.mu.Lock()
		c.maybeCloseLocked(s)
		c.mu.Unlock()
	}
	return nil
}

// openStream maps a client's new stream onto a new stream of an upstream
// connection and sends it the request headers.
func (c *conn) openStream(f *http2.MetaHeadersFrame) error {
	id := f.StreamID
	if id%2 == 0 {
		return connError{http2.ErrCodeProtocol, "client opened an even stream id"}
	}
	c.lastPeerID = id
	end := f.StreamEnded()
	a := &side{c: c, id: id, recv: c.r.cfg.streamWindow, recvEnded: end}
	c.mu.Lock()
	if f.Truncated || uint32(len(c.streams)) >= c.r.cfg.maxStreams {
		code := http2.ErrCodeRefusedStream
		if f.Truncated {
			code = http2.ErrCodeProtocol
		}
		c.wrote(c.fr.WriteRSTStream(id, code))
		c.mu.Unlock()
		c.touch(c)
		return nil
	}
	a.window = c.peerInitWindow
	c.streams[id] = a
	c.mu.Unlock()

	fields := forwardFields(f.Fields)
	for tried := range c.r.cfg.upstreamConns {
		up, err := c.r.pickUpstream(tried)
		if err != nil {
			c.mu.Lock()
			c.unavailableLocked(a, err.Error())
			c.mu.Unlock()
			c.touch(c)
			return nil
		}
		up.mu.Lock()
		if up.dead() || up.unusable.Load() || uint32(len(up.streams)) >= up.peerMaxStreams {
			up.mu.Unlock()
			continue
		}
		b := &side{c: up, id: up.nextID, other: a, recv: c.r.cfg.streamWindow, window: up.peerInitWindow}
		a.other = b
		up.nextID += 2
		if up.nextID > maxStreamID {
			up.unusable.Store(true)
		}
		up.streams[b.id] = b
		up.writeHeadersLocked(b, fields, end)
		if end {
			up.endSentLocked(b)
		}
		up.mu.Unlock()
		c.touch(up)
		return nil
	}
	// Every upstream connection is at the stream limit its server set: the
	// client may retry (grpc-go does, once, transparently).
	c.mu.Lock()
	c.rstLocked(a, http2.ErrCodeRefusedStream)
	c.mu.Unlock()
	c.touch(c)
	return nil
}

func (c *conn) onData(f *http2.DataFrame) error {
	id, size, data := f.StreamID, int64(f.Length), f.Data()
	c.mu.Lock()
	c.recvWindow -= size
	if c.recvWindow < 0 {
		c.mu.Unlock()
		return connError{http2.ErrCodeFlowControl, "connection window overrun"}
	}
	s := c.streams[id]
	if s == nil || s.recvEnded || s.recv < size {
		// Not relayed: the connection's credit comes back at once.
		idle := c.idleLocked(id)
		c.creditLocked(nil, size)
		c.mu.Unlock()
		c.touch(c)
		switch {
		case s == nil && idle:
			return connError{http2.ErrCodeProtocol, "DATA on an idle stream"}
		case s == nil:
			// A stream the relay reset or ended: frames in flight are ignored.
		case s.recvEnded:
			c.resetStream(s, true, http2.ErrCodeStreamClosed, http2.ErrCodeCancel)
		default:
			c.resetStream(s, true, http2.ErrCodeFlowControl, http2.ErrCodeCancel)
		}
		return nil
	}
	s.recv -= size
	end := f.StreamEnded()
	s.recvEnded = end
	if pad := size - int64(len(data)); pad > 0 {
		c.creditLocked(s, pad)
	}
	c.mu.Unlock()

	// Inline: the reader that has the frame writes it to the other leg.
	n := int64(len(data))
	if o := s.other; o != nil {
		oc := o.c
		oc.mu.Lock()
		n = oc.sendDataLocked(o, data, end)
		oc.mu.Unlock()
		c.touch(oc)
	}
	if n > 0 || end {
		c.mu.Lock()
		c.creditLocked(s, n)
		if end {
			c.maybeCloseLocked(s)
		}
		c.mu.Unlock()
		c.touch(c)
	}
	return nil
}

// sendDataLocked writes data to stream o of c as far as the peer's
// windows allow and queues the rest. It returns how many bytes left the
// relay (or were dropped, the stream being gone): their sender may have
// its window back.
func (c *conn) sendDataLocked(o *side, data []byte, end bool) int64 {
	if c.dead() || o.closed || o.sentEnded {
		return int64(len(data))
	}
	var n int64
	if len(o.queue) == 0 {
		w, done := c.writeDataLocked(o, data, end)
		if done {
			if end {
				c.endSentLocked(o)
			}
			return w
		}
		n, data = w, data[w:]
	}
	o.queue = append(o.queue, pending{data: bytes.Clone(data), end: end})
	q := int64(len(data))
	o.queued += q
	c.queued += q
	c.r.stats.queued.Add(q)
	raise(&c.r.stats.peakStreamQueue, o.queued)
	raise(&c.r.stats.peakConnQueue, c.queued)
	if o.window > 0 && c.window <= 0 {
		c.blockLocked(o)
	}
	return n
}

// writeDataLocked writes as much of data as the stream's and the
// connection's send windows allow, in frames the peer accepts, with
// END_STREAM on the last one when end. done reports that all of it (and
// END_STREAM) went.
func (c *conn) writeDataLocked(o *side, data []byte, end bool) (n int64, done bool) {
	if len(data) == 0 && !end {
		return 0, true
	}
	for {
		rest := int64(len(data)) - n
		chunk := min(rest, int64(c.peerMaxFrame), o.window, c.window)
		if rest > 0 && chunk <= 0 {
			return n, false
		}
		chunk = max(chunk, 0)
		last := chunk == rest
		c.wrote(c.fr.WriteData(o.id, end && last, data[n:n+chunk]))
		o.window -= chunk
		c.window -= chunk
		n += chunk
		if last {
			return n, true
		}
	}
}

// drainLocked writes what waits on stream o as far as the windows allow
// and returns the DATA bytes written, to be credited to the sender.
func (c *conn) drainLocked(o *side) int64 {
	var n int64
	for len(o.queue) > 0 && !c.dead() {
		p := &o.queue[0]
		if p.fields != nil {
			c.writeHeadersLocked(o, p.fields, p.end)
		} else {
			w, done := c.writeDataLocked(o, p.data, p.end)
			n += w
			o.queued -= w
			c.queued -= w
			c.r.stats.queued.Add(-w)
			if !done {
				p.data = p.data[w:]
				if o.window > 0 {
					c.blockLocked(o)
				}
				return n
			}
		}
		end := p.end
		o.queue[0] = pending{}
		o.queue = o.queue[1:]
		if end {
			c.endSentLocked(o)
		}
	}
	return n
}

// blockLocked puts o in line for the connection window.
func (c *conn) blockLocked(o *side) {
	if !o.inBlocked {
		o.inBlocked = true
		c.blocked = append(c.blocked, o)
	}
}

// dropQueueLocked discards what waits on o (the stream is gone) and
// returns the DATA bytes dropped, to be credited to their sender.
func (c *conn) dropQueueLocked(o *side) int64 {
	n := o.queued
	o.queue, o.queued = nil, 0
	c.queued -= n
	c.r.stats.queued.Add(-n)
	return n
}

func (c *conn) onWindowUpdate(f *http2.WindowUpdateFrame) error {
	inc := int64(f.Increment)
	credits := c.credits[:0]
	c.mu.Lock()
	if f.StreamID == 0 {
		c.window += inc
		if c.window > maxWindow {
			c.mu.Unlock()
			return connError{http2.ErrCodeFlowControl, "connection send window overflow"}
		}
		blocked := c.blocked
		c.blocked = nil
		for _, o := range blocked {
			o.inBlocked = false
			if c.window <= 0 {
				c.blockLocked(o)
				continue
			}
			if n := c.drainLocked(o); n > 0 {
				credits = append(credits, credit{o.other, n})
			}
		}
	} else if o := c.streams[f.StreamID]; o != nil {
		o.window += inc
		if o.window > maxWindow {
			c.mu.Unlock()
			c.resetStream(o, true, http2.ErrCodeFlowControl, http2.ErrCodeCancel)
			return nil
		}
		if len(o.queue) > 0 {
			if n := c.drainLocked(o); n > 0 {
				credits = append(credits, credit{o.other, n})
			}
		}
	}
	c.mu.Unlock()
	c.touch(c)
	c.credits = c.returnCredits(credits)
	return nil
}

// creditLocked returns n received bytes to the peer of c (and of stream s,
// when s is non-nil and still receiving) once they left the relay. To
// spare frames, WINDOW_UPDATE goes when a quarter of the window is owed.
func (c *conn) creditLocked(s *side, n int64) {
	if n <= 0 || c.dead() {
		return
	}
	c.unacked += n
	if c.unacked >= c.r.cfg.connWindow/4 {
		c.wrote(c.fr.WriteWindowUpdate(0, uint32(c.unacked)))
		c.recvWindow += c.unacked
		c.unacked = 0
	}
	if s == nil || s.closed || s.recvEnded {
		return
	}
	s.unacked += n
	if s.unacked >= c.r.cfg.streamWindow/4 {
		c.wrote(c.fr.WriteWindowUpdate(s.id, uint32(s.unacked)))
		s.recv += s.unacked
		s.unacked = 0
	}
}

// returnCredits credits each sender (on its own connection, never while
// holding another connection's lock) and returns credits emptied for
// reuse.
func (c *conn) returnCredits(credits []credit) []credit {
	for i, cr := range credits {
		if cr.s != nil {
			sc := cr.s.c
			sc.mu.Lock()
			sc.creditLocked(cr.s, cr.n)
			sc.mu.Unlock()
			c.touch(sc)
		}
		credits[i] = credit{}
	}
	return credits[:0]
}

func (c *conn) onReset(f *http2.RSTStreamFrame) error {
	c.mu.Lock()
	s := c.streams[f.StreamID]
	if s == nil {
		idle := c.idleLocked(f.StreamID)
		c.mu.Unlock()
		if idle {
			return connError{http2.ErrCodeProtocol, "RST_STREAM on an idle stream"}
		}
		return nil
	}
	done := s.recvEnded
	s.recvEnded, s.sentEnded = true, true
	dropped := c.dropQueueLocked(s)
	c.closeLocked(s)
	c.mu.Unlock()
	c.endOther(s, f.ErrCode, done, dropped)
	return nil
}

// resetStream ends stream s of c, with RST_STREAM(code) to c's peer when
// rstPeer, and resets the other leg with otherCode.
func (c *conn) resetStream(s *side, rstPeer bool, code, otherCode http2.ErrCode) {
	c.mu.Lock()
	if s.closed {
		c.mu.Unlock()
		return
	}
	var dropped int64
	if rstPeer {
		dropped = c.rstLocked(s, code)
	} else {
		s.recvEnded, s.sentEnded = true, true
		dropped = c.dropQueueLocked(s)
		c.closeLocked(s)
	}
	c.mu.Unlock()
	c.touch(c)
	c.endOther(s, otherCode, false, dropped)
}

// endOther ends the other leg of s, which has just closed on c. dropped is
// what had been queued toward c's peer: it is credited back to its sender.
// When c's peer had sent all of its half and reset with NO_ERROR (a server
// that answered before reading the whole request), the other leg still
// gets all of it, and only then a NO_ERROR reset.
func (c *conn) endOther(s *side, code http2.ErrCode, done bool, dropped int64) {
	o := s.other
	if o == nil {
		return
	}
	oc := o.c
	oc.mu.Lock()
	oc.creditLocked(o, dropped)
	var back int64
	switch {
	case o.closed:
	case done && code == http2.ErrCodeNo:
		o.rstAfterEnd = true
		if o.sentEnded && !o.recvEnded {
			back = oc.rstLocked(o, http2.ErrCodeNo)
		}
	default:
		back = oc.rstLocked(o, code)
	}
	oc.mu.Unlock()
	c.touch(oc)
	if back > 0 {
		c.mu.Lock()
		c.creditLocked(s, back)
		c.mu.Unlock()
		c.touch(c)
	}
}

// streamError handles a stream error the Framer found.
func (c *conn) streamError(id uint32, code http2.ErrCode) {
	c.mu.Lock()
	s := c.streams[id]
	if s == nil {
		if !c.dead() {
			c.wrote(c.fr.WriteRSTStream(id, code))
		}
		c.mu.Unlock()
		c.touch(c)
		return
	}
	c.mu.Unlock()
	c.resetStream(s, true, code, http2.ErrCodeCancel)
}

// abandonLocked ends o after the connection of its other leg died: a
// client stream gets UNAVAILABLE (unless the upstream had already sent all
// of its response), an upstream stream gets CANCEL.
func (c *conn) abandonLocked(o *side, dead role, done bool) {
	switch {
	case o.closed || c.dead():
	case dead == roleDown:
		c.rstLocked(o, http2.ErrCodeCancel)
	case done:
		o.rstAfterEnd = true
		if o.sentEnded && !o.recvEnded {
			c.rstLocked(o, http2.ErrCodeNo)
		}
	default:
		c.dropQueueLocked(o)
		c.unavailableLocked(o, "upstream connection closed")
	}
}

// unavailableLocked ends client stream o with grpc-status UNAVAILABLE:
// a Trailers-Only response, or trailers after the response headers.
func (c *conn) unavailableLocked(o *side, msg string) {
	if o.closed || o.sentEnded {
		return
	}
	status := []hpack.HeaderField{{Name: "grpc-status", Value: "14"}, {Name: "grpc-message", Value: percentEncode(msg)}}
	if !o.headersSent {
		status = append([]hpack.HeaderField{{Name: ":status", Value: "200"}, {Name: "content-type", Value: "application/grpc"}}, status...)
	}
	c.dropQueueLocked(o)
	c.writeHeadersLocked(o, status, true)
	o.rstAfterEnd = true
	c.endSentLocked(o)
}

// rstLocked resets o toward its peer and closes it; it returns the DATA
// bytes dropped from its queue.
func (c *conn) rstLocked(o *side, code http2.ErrCode) int64 {
	if o.closed {
		return 0
	}
	if !c.dead() {
		c.wrote(c.fr.WriteRSTStream(o.id, code))
	}
	o.recvEnded, o.sentEnded = true, true
	n := c.dropQueueLocked(o)
	c.closeLocked(o)
	return n
}

// endSentLocked records that the relay ended its half of o.
func (c *conn) endSentLocked(o *side) {
	o.sentEnded = true
	if o.rstAfterEnd && !o.recvEnded && !o.closed {
		c.rstLocked(o, http2.ErrCodeNo)
		return
	}
	c.maybeCloseLocked(o)
}

func (c *conn) maybeCloseLocked(o *side) {
	if o.sentEnded && o.recvEnded && len(o.queue) == 0 {
		c.closeLocked(o)
	}
}

func (c *conn) closeLocked(o *side) {
	if !o.closed {
		o.closed = true
		delete(c.streams, o.id)
	}
}

// writeHeadersLocked HPACK-encodes fields with c's encoder and writes them
// as HEADERS and CONTINUATION frames of at most the peer's frame size.
func (c *conn) writeHeadersLocked(o *side, fields []hpack.HeaderField, end bool) {
	if c.dead() {
		return
	}
	c.hbuf.Reset()
	for _, f := range fields {
		_ = c.henc.WriteField(f) // writes to a bytes.Buffer: no error
	}
	block := c.hbuf.Bytes()
	first := block[:min(len(block), c.peerMaxFrame)]
	rest := block[len(first):]
	c.wrote(c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: o.id, BlockFragment: first, EndStream: end, EndHeaders: len(rest) == 0}))
	for len(rest) > 0 {
		chunk := rest[:min(len(rest), c.peerMaxFrame)]
		rest = rest[len(chunk):]
		c.wrote(c.fr.WriteContinuation(o.id, len(rest) == 0, chunk))
	}
	o.headersSent = true
}

// forwardFields drops the connection-specific fields HTTP/2 forbids
// (RFC 9113 8.2.2) and keeps everything else, pseudo-headers first as
// received. It filters in place: the decoded fields belong to the caller.
func forwardFields(in []hpack.HeaderField) []hpack.HeaderField {
	out := in[:0]
	for _, f := range in {
		switch f.Name {
		case "connection", "proxy-connection", "keep-alive", "transfer-encoding", "upgrade":
			continue
		case "te":
			if f.Value != "trailers" {
				continue
			}
		}
		out = append(out, f)
	}
	return out
}

// percentEncode encodes a grpc-message value: bytes outside printable
// ASCII, and '%', as %XX.
func percentEncode(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 0x20 && c <= 0x7e && c != '%' {
			b.WriteByte(c)
		} else {
			b.WriteString("%" + strings.ToUpper(string("0123456789abcdef"[c>>4])+string("0123456789abcdef"[c&15])))
		}
	}
	return b.String()
}
