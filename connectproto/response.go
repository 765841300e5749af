package connectproto

import (
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/sluice-dev/sluice/protocol"
)

// contentType is the response's media type: the request's codec in the
// call's protocol.
func (c *call) contentType() string {
	name := "proto"
	if c.codec == codecJSON {
		name = "json"
	}
	if c.stream {
		return typeStreamPrefix + name
	}
	return "application/" + name
}

// fail answers a call that ended before it was dispatched: as a unary
// error, or as a stream holding only its end-of-stream message.
func (c *call) fail(s *protocol.Stream, st *status.Status) {
	if c.stream {
		sw := &streamWriter{c: c}
		sw.finish(s, st.Err())
		return
	}
	c.writeUnaryError(s, st, 0)
}

// writeUnary writes a unary call's response: header metadata as headers,
// trailer metadata as Trailer- headers, the message gzipped when the
// client accepts it and it is worth it.
func (c *call) writeUnary(s *protocol.Stream, wire []byte) {
	body, err := c.encode(wire)
	if err != nil {
		c.writeUnaryError(s, statusOf(err), 0)
		return
	}
	h := c.w.Header()
	c.setMetadata(h, s)
	h.Set("Content-Type", c.contentType())
	if c.gzipOK && len(body) >= c.h.cfg.compressMin {
		if z, err := c.h.gz.compress(make([]byte, 0, len(body)/2+64), body); err == nil {
			body = z
			h.Set("Content-Encoding", "gzip")
		}
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	c.w.WriteHeader(http.StatusOK)
	_, _ = c.w.Write(body)
}

// writeUnaryError writes st as Connect's JSON error, with the HTTP
// status of its code (httpCode, when not 0, overrides it).
func (c *call) writeUnaryError(s *protocol.Stream, st *status.Status, httpCode int) {
	h := c.w.Header()
	c.setMetadata(h, s)
	h.Set("Content-Type", typeJSON)
	if httpCode == 0 {
		httpCode = httpStatus(st.Code())
	}
	body := errorJSON(st)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	c.w.WriteHeader(httpCode)
	_, _ = c.w.Write(body)
}

// setMetadata sets a unary response's header metadata and its trailers,
// prefixed with Trailer-.
func (c *call) setMetadata(h http.Header, s *protocol.Stream) {
	if s == nil {
		return
	}
	md, _ := s.Headers()
	setHeaders(h, "", md)
	setHeaders(h, "Trailer-", s.Trailers())
}

// requestIsRead reports whether a response may start: always, but on an
// HTTP/1.1 server stream only once its request was read (net/http closes
// an HTTP/1.1 request body once the response starts).
func (c *call) requestIsRead() bool {
	if c.reqDone == nil {
		return true
	}
	select {
	case <-c.reqDone:
		return true
	default:
		return false
	}
}

// streamWriter writes a streaming call's response: headers when the
// upstream sends its own (so a client learns early that the stream is
// open), each message as one envelope, flushed before the proxy reads the
// next from the upstream (that single write in flight is the
// backpressure), and the end-of-stream message with the status and the
// trailers. A stream's HTTP status is always 200: errors travel in the
// end-of-stream message.
type streamWriter struct {
	c       *call
	mu      sync.Mutex
	started bool
	done    bool
	gzip    bool
	buf     []byte
}

// header takes the upstream's response header, once.
func (sw *streamWriter) header(md metadata.MD, _ bool) {
	sw.mu.Lock()
	defer sw.mu.Unlock()
	if sw.started || sw.done {
		return
	}
	setHeaders(sw.c.w.Header(), "", md)
	if !sw.c.requestIsRead() {
		return // the first message or the end sends them
	}
	sw.start()
	_ = sw.c.rc.Flush()
}

// start writes the response headers. sw.mu is held.
func (sw *streamWriter) start() {
	c := sw.c
	h := c.w.Header()
	h.Set("Content-Type", c.contentType())
	h.Set(headerStreamAccept, "gzip")
	if c.closeConn {
		h.Set("Connection", "close")
	}
	if c.gzipOK {
		sw.gzip = true
		h.Set(headerStreamEnc, "gzip")
	}
	c.w.WriteHeader(http.StatusOK)
	sw.started = true
}

// message writes one response message as an envelope and flushes it.
func (sw *streamWriter) message(wire []byte) error {
	c := sw.c
	payload, err := c.encode(wire)
	if err != nil {
		return err
	}
	if c.reqDone != nil {
		select {
		case <-c.reqDone:
		case <-c.done:
			return status.Error(codes.Canceled, "the call ended before its request was read")
		}
	}
	sw.mu.Lock()
	defer sw.mu.Unlock()
	if sw.done {
		return status.Error(codes.Canceled, "the response is finished")
	}
	if !sw.started {
		sw.start()
	}
	flags := byte(0)
	if sw.gzip && len(payload) >= c.h.cfg.compressMin {
		if z, err := c.h.gz.compress(nil, payload); err == nil {
			payload, flags = z, flagCompressed
		}
	}
	if err := sw.write(flags, payload); err != nil {
		return status.Errorf(codes.Canceled, "write response: %v", err)
	}
	return nil
}

// write writes one envelope and flushes it. sw.mu is held.
func (sw *streamWriter) write(flags byte, payload []byte) error {
	c := sw.c
	c.beginWrite()
	defer c.endWrite()
	if len(payload) <= 16<<10 {
		// One write for prefix and payload: one DATA frame, one chunk.
		sw.buf = append(appendPrefix(sw.buf[:0], flags, len(payload)), payload...)
		if _, err := c.w.Write(sw.buf); err != nil {
			return err
		}
		if cap(sw.buf) > 64<<10 {
			sw.buf = nil
		}
	} else {
		var prefix [5]byte
		if _, err := c.w.Write(appendPrefix(prefix[:0], flags, len(payload))); err != nil {
			return err
		}
		if _, err := c.w.Write(payload); err != nil {
			return err
		}
	}
	return c.rc.Flush()
}

// finish ends the stream with err (nil: success) and the trailers, in the
// end-of-stream message. s may be nil when the call never reached the
// dispatcher.
func (sw *streamWriter) finish(s *protocol.Stream, err error) {
	sw.mu.Lock()
	defer sw.mu.Unlock()
	sw.done = true
	var trailer metadata.MD
	if s != nil {
		if !sw.started {
			if md, sent := s.Headers(); !sent {
				setHeaders(sw.c.w.Header(), "", md)
			}
		}
		trailer = s.Trailers()
	}
	if !sw.started {
		sw.start()
	}
	if err != nil {
		err = statusOf(err).Err()
	}
	_ = sw.write(flagEndStream, endStreamJSON(err, trailer))
}

// getMessage decodes the request message of a Connect GET from the
// query: message (base64url when base64=1), its compression, and the
// encoding already chosen.
func (c *call) getMessage() ([]byte, error) {
	q := c.r.URL.Query()
	v, ok := q["message"]
	if !ok || len(v) == 0 {
		return nil, status.Error(codes.InvalidArgument, "missing message parameter")
	}
	msg := v[0]
	if len(msg) > 2*c.h.cfg.maxRecv {
		return nil, status.Errorf(codes.ResourceExhausted, "message is larger than the limit %d", c.h.cfg.maxRecv)
	}
	if q.Get("base64") != "1" {
		if len(msg) > c.h.cfg.maxRecv {
			return nil, status.Errorf(codes.ResourceExhausted, "message is larger than the limit %d", c.h.cfg.maxRecv)
		}
		return []byte(msg), nil
	}
	msg = strings.TrimRight(msg, "=")
	b, err := base64.RawURLEncoding.DecodeString(msg)
	if err != nil {
		// Some clients send the standard alphabet.
		if b, err = base64.RawStdEncoding.DecodeString(msg); err != nil {
			return nil, status.Errorf(codes.InvalidArgument, "message parameter is not base64: %v", err)
		}
	}
	if len(b) > c.h.cfg.maxRecv {
		return nil, status.Errorf(codes.ResourceExhausted, "message size %d is larger than the limit %d", len(b), c.h.cfg.maxRecv)
	}
	return b, nil
}
