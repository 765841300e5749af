package grpcweb

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/binary"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// responder writes one call's response: the headers (with the upstream's
// header metadata) once, then each message as a length-prefixed frame,
// flushed, then the status and trailer metadata in the trailer frame. A
// call that fails before it wrote anything, and whose upstream sent no
// header metadata, is answered trailers-only: everything in the HTTP
// headers and an empty body, as the protocol asks. In grpc-web-text each
// frame is base64-encoded on its own, padded (the protocol lets clients
// rely on nothing else). It serializes its writers.
type responder struct {
	w           http.ResponseWriter
	rc          *http.ResponseController
	contentType string
	text        bool
	gzip        bool // compress response messages

	mu           sync.Mutex
	started      bool
	done         bool
	buf          bytes.Buffer // a frame being built
	zw           *gzip.Writer
	flushPending bool // written since the last flush (server streams)

	// The flusher of a server stream (startFlusher); nil otherwise. kick
	// is read under mu; stopFlush only by the handler's goroutine.
	kick      chan struct{}
	stopFlush func()
}

// acceptEncoding is what the handler decompresses, advertised on every
// response.
const acceptEncoding = "gzip"

// start writes the response headers, with md as metadata. mu is held.
func (rs *responder) start(md metadata.MD) {
	h := rs.w.Header()
	h.Set("Content-Type", rs.contentType)
	h.Set("Grpc-Accept-Encoding", acceptEncoding)
	if rs.gzip {
		h.Set("Grpc-Encoding", "gzip")
	}
	setMetadata(h, md)
	rs.w.WriteHeader(http.StatusOK)
	rs.started = true
}

// header writes the headers, if nothing did yet. Sent alone (the
// upstream sent its header, which a streaming client may be waiting for)
// they are flushed now; with a message, they leave with it.
func (rs *responder) header(md metadata.MD, withMessage bool) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if rs.started || rs.done {
		return
	}
	rs.start(md)
	if !withMessage {
		_ = rs.rc.Flush()
	}
}

// message writes one response message (flushed by the flusher of a
// server stream, by the handler's return otherwise), after the headers.
func (rs *responder) message(data []byte) error {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if rs.done {
		return status.Error(codes.Canceled, "grpc-web: the response is finished")
	}
	if !rs.started {
		rs.start(nil)
	}
	rs.buf.Reset()
	flags := byte(0)
	payload := data
	if rs.gzip && len(data) > 0 {
		var z bytes.Buffer
		if rs.zw == nil {
			rs.zw = gzip.NewWriter(&z)
		} else {
			rs.zw.Reset(&z)
		}
		_, _ = rs.zw.Write(data)
		_ = rs.zw.Close()
		flags, payload = flagCompressed, z.Bytes()
	}
	var err error
	if rs.text {
		rs.appendFrame(flags, payload)
		err = rs.writeFrame()
	} else {
		// The prefix, then the message as it is: no copy of it here.
		var prefix [prefixLen]byte
		prefix[0] = flags
		binary.BigEndian.PutUint32(prefix[1:], uint32(len(payload)))
		if _, err = rs.w.Write(prefix[:]); err == nil {
			_, err = rs.w.Write(payload)
		}
	}
	if err != nil {
		return status.Errorf(codes.Canceled, "grpc-web: write response: %v", err)
	}
	if rs.kick != nil && !rs.flushPending {
		rs.flushPending = true
		select {
		case rs.kick <- struct{}{}:
		default:
		}
	}
	return nil
}

// startFlusher flushes a server stream's messages from a goroutine of its
// own, as soon as it gets to it: a client sees each message without
// waiting for the next, and messages the upstream sends faster than the
// connection takes a flush go out in one (a flush per message costs a
// write, and with HTTP/2 a hand-over to the connection's goroutine). What
// waits for a flush is bounded by the server's write buffer: a full one
// is written by the write itself. Unary calls need none: the handler's
// return flushes their one message with the trailers.
func (rs *responder) startFlusher() {
	kick, stop, done := make(chan struct{}, 1), make(chan struct{}), make(chan struct{})
	rs.kick = kick
	rs.stopFlush = func() {
		close(stop)
		<-done
	}
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			case <-kick:
			}
			rs.mu.Lock()
			if rs.flushPending && !rs.done {
				rs.flushPending = false
				_ = rs.rc.Flush()
			}
			rs.mu.Unlock()
		}
	}()
}

// stopFlusher ends the flusher, if any, and waits for it. Only the
// handler's goroutine calls it; mu is not held.
func (rs *responder) stopFlusher() {
	if stop := rs.stopFlush; stop != nil {
		rs.stopFlush = nil
		stop()
	}
}

// appendFrame adds one frame to buf.
func (rs *responder) appendFrame(flags byte, payload []byte) {
	var prefix [prefixLen]byte
	prefix[0] = flags
	binary.BigEndian.PutUint32(prefix[1:], uint32(len(payload)))
	rs.buf.Write(prefix[:])
	rs.buf.Write(payload)
}

// writeFrame writes buf (as base64 in text mode), without flushing.
func (rs *responder) writeFrame() error {
	out := rs.buf.Bytes()
	if rs.text {
		enc := make([]byte, base64.StdEncoding.EncodedLen(len(out)))
		base64.StdEncoding.Encode(enc, out)
		out = enc
	}
	_, err := rs.w.Write(out)
	return err
}

// finish ends the response with st and the trailer metadata: in the
// trailer frame, or trailers-only when nothing was written and the
// upstream sent no header metadata.
func (rs *responder) finish(st *status.Status, header, trailer metadata.MD) {
	rs.stopFlusher()
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if rs.done {
		return
	}
	rs.done = true
	if !rs.started && len(header) == 0 {
		h := rs.w.Header()
		h.Set("Content-Type", rs.contentType)
		h.Set("Grpc-Accept-Encoding", acceptEncoding)
		setMetadata(h, trailer)
		setStatus(h, st)
		rs.w.WriteHeader(http.StatusOK)
		rs.started = true
		return
	}
	if !rs.started {
		rs.start(header)
	}
	t := http.Header{}
	setMetadata(t, trailer)
	setStatus(t, st)
	var block bytes.Buffer
	for k, vs := range t {
		k = strings.ToLower(k)
		for _, v := range vs {
			block.WriteString(k)
			block.WriteString(": ")
			block.WriteString(v)
			block.WriteString("\r\n")
		}
	}
	rs.buf.Reset()
	rs.appendFrame(flagTrailer, block.Bytes())
	// The handler's return flushes it, with whatever a flush left.
	_ = rs.writeFrame()
}

// fail answers a request refused before it became a call, with an HTTP
// status of its own when it is not 200 (wrong method, unknown codec).
func (rs *responder) fail(st *status.Status, code int) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	rs.done, rs.started = true, true
	h := rs.w.Header()
	h.Set("Content-Type", rs.contentType)
	h.Set("Grpc-Accept-Encoding", acceptEncoding)
	setStatus(h, st)
	rs.w.WriteHeader(code)
}

// setStatus writes grpc-status, grpc-message (percent-encoded) and
// grpc-status-details-bin (when the status has details).
func setStatus(h http.Header, st *status.Status) {
	h.Set("Grpc-Status", strconv.Itoa(int(st.Code())))
	if msg := st.Message(); msg != "" {
		h.Set("Grpc-Message", encodeMessage(msg))
	}
	if p := st.Proto(); len(p.GetDetails()) > 0 {
		if b, err := proto.Marshal(p); err == nil {
			h.Set("Grpc-Status-Details-Bin", base64.RawStdEncoding.EncodeToString(b))
		}
	}
}

// setMetadata adds metadata as headers: binary ("-bin") values
// base64-encoded, gRPC's reserved keys left out (the status is the
// adapter's to write).
func setMetadata(h http.Header, md metadata.MD) {
	for k, vs := range md {
		if reservedKey(k) {
			continue
		}
		for _, v := range vs {
			if strings.HasSuffix(k, "-bin") {
				v = base64.RawStdEncoding.EncodeToString([]byte(v))
			}
			h[http.CanonicalHeaderKey(k)] = append(h[http.CanonicalHeaderKey(k)], v)
		}
	}
}

// encodeMessage percent-encodes a status message as gRPC writes
// grpc-message: every byte outside printable ASCII, and '%'.
func encodeMessage(msg string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(msg); i++ {
		c := msg[i]
		if c >= 0x20 && c <= 0x7e && c != '%' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&0xf])
	}
	return b.String()
}
