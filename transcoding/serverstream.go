package transcoding

import (
	"bytes"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/sluice-dev/sluice/protocol"
)

// StreamFormat is how the messages of a server-streaming call are written
// into one HTTP response. Every format writes and flushes one message at a
// time, as it arrives, and ends a stream that fails after its first
// message with a final error line or event carrying the google.rpc.Status.
type StreamFormat string

const (
	// StreamEnvelope writes each message as a {"result": <message>} line
	// and a failure as an {"error": <google.rpc.Status>} line, with
	// Content-Type application/json: the format of grpc-gateway, and the
	// default, so that its clients can switch gateways unchanged.
	StreamEnvelope StreamFormat = "envelope"
	// StreamNDJSON writes each message as one line of JSON
	// (application/x-ndjson) and a failure as a google.rpc.Status line
	// typed by "@type": "type.googleapis.com/google.rpc.Status", which no
	// message's JSON carries.
	StreamNDJSON StreamFormat = "ndjson"
	// StreamSSE writes Server-Sent Events (text/event-stream): one
	// "data:" event per message, then a final "end" event (success) or
	// "grpc-error" event (a failure after the first message), each with a
	// google.rpc.Status as data, on which a client closes its EventSource.
	// Clients ask for it by Accept.
	StreamSSE StreamFormat = "sse"
)

// Media types of the streaming formats.
const (
	contentTypeJSON   = "application/json"
	contentTypeNDJSON = "application/x-ndjson"
	contentTypeSSE    = "text/event-stream"
)

// statusType is the "@type" of a typed google.rpc.Status error line.
const statusType = "type.googleapis.com/google.rpc.Status"

// negotiateStream picks the format of a server stream from the Accept
// header values: the offer with the highest q wins, ties going to the one
// the client named most specifically, then to the default (offered as
// application/json), NDJSON and SSE in that order. No Accept header gives
// the default; ok is false when every offer is refused.
func negotiateStream(values []string, def StreamFormat) (f StreamFormat, ok bool) {
	offers := [...]struct {
		mediaType string
		format    StreamFormat
	}{
		{contentTypeJSON, def},
		{contentTypeNDJSON, StreamNDJSON},
		{contentTypeSSE, StreamSSE},
	}
	ranges := parseAccept(values)
	if len(ranges) == 0 {
		return def, true
	}
	bestQ, bestSpec := 0.0, -1
	for _, o := range offers {
		q, spec := acceptQuality(ranges, o.mediaType)
		if q > bestQ || q == bestQ && q > 0 && spec > bestSpec {
			bestQ, bestSpec, f = q, spec, o.format
		}
	}
	return f, bestQ > 0
}

// mediaRange is one element of an Accept header.
type mediaRange struct {
	typ, sub string
	q        float64
}

func parseAccept(values []string) []mediaRange {
	var out []mediaRange
	for _, v := range values {
		for _, part := range strings.Split(v, ",") {
			mt, params, _ := strings.Cut(part, ";")
			typ, sub, ok := strings.Cut(strings.ToLower(strings.TrimSpace(mt)), "/")
			if !ok || typ == "" || sub == "" {
				continue
			}
			r := mediaRange{typ: strings.TrimSpace(typ), sub: strings.TrimSpace(sub), q: 1}
			for _, p := range strings.Split(params, ";") {
				k, val, ok := strings.Cut(strings.TrimSpace(p), "=")
				if ok && strings.EqualFold(strings.TrimSpace(k), "q") {
					if q, err := strconv.ParseFloat(strings.TrimSpace(val), 64); err == nil && q >= 0 && q <= 1 {
						r.q = q
					}
				}
			}
			out = append(out, r)
		}
	}
	return out
}

// acceptQuality returns the q the most specific matching range gives
// mediaType, and that range's specificity (2 exact, 1 type/*, 0 */*;
// -1 and q 0 when nothing matches).
func acceptQuality(ranges []mediaRange, mediaType string) (q float64, spec int) {
	typ, sub, _ := strings.Cut(mediaType, "/")
	spec = -1
	for _, r := range ranges {
		s := -1
		switch {
		case r.typ == typ && r.sub == sub:
			s = 2
		case r.typ == typ && r.sub == "*":
			s = 1
		case r.typ == "*" && r.sub == "*":
			s = 0
		}
		if s > spec {
			q, spec = r.q, s
		}
	}
	return q, spec
}

// streamResponder writes a server-streaming call in its format: response
// headers as soon as the upstream sends its header (so a client knows a
// watch is registered before the first change), then one message per
// write, each flushed before the next is taken from the proxy. That single
// write in flight is the backpressure: the proxy's SendMsg blocks while the
// HTTP client is slow, so the upstream is read no faster than the client
// reads. A google.api.HttpBody stream is written raw, with the content
// type of its first message.
//
// The call's status always ends the response as HTTP trailers Grpc-Status
// and Grpc-Message (percent-encoded as in gRPC) when the client can read
// trailers: over HTTP/2, or over HTTP/1.1 when it sent "TE: trailers".
// Upstream trailer metadata then follows as Grpc-Trailer-* trailers.
type streamResponder struct {
	c         *call
	format    StreamFormat
	raw       bool
	trailers  bool
	heartbeat time.Duration
	grace     time.Duration // headerGrace unless WithStreamHeaderGrace
	rc        *http.ResponseController

	mu          sync.Mutex // one writer at a time: messages, header, heartbeats
	started     bool
	done        bool
	headerTimer *time.Timer
	lastWrite   time.Time
	stopBeat    chan struct{}
	beatDone    chan struct{}
}

// headerGrace is how long the response headers wait after the upstream's
// header for a message or the end of the call. A gRPC server that set
// header metadata and then fails sends its header and its status in two
// frames back to back; waiting this long lets that failure still answer
// with its HTTP status (404, 403...) instead of a 200 and an error line,
// while a quiet stream (a watch) shows its headers almost at once.
const headerGrace = 20 * time.Millisecond

func newStreamResponder(c *call, rc *http.ResponseController, format StreamFormat, heartbeat, grace time.Duration) *streamResponder {
	if grace <= 0 {
		grace = headerGrace
	}
	sr := &streamResponder{
		grace:    grace,
		c:        c,
		format:   format,
		raw:      c.b.rawResponse,
		trailers: c.r.ProtoMajor >= 2 || requestsTrailers(c.r),
		rc:       rc,
	}
	if format == StreamSSE && !sr.raw {
		sr.heartbeat = heartbeat
	}
	return sr
}

// header takes the upstream's response header, once. Unless the stream is
// raw (whose content type only its first message tells), the response
// starts headerGrace later if neither a message nor the end of the call
// started it before.
func (sr *streamResponder) header(md metadata.MD, _ bool) {
	sr.mu.Lock()
	defer sr.mu.Unlock()
	if sr.started || sr.done {
		return
	}
	sr.c.setMetadataHeaders(sr.c.w.Header(), metadataHeaderPrefix, md)
	if !sr.raw {
		sr.headerTimer = time.AfterFunc(sr.grace, sr.startQuiet)
	}
}

// startQuiet starts the response of a stream that sent its header but no
// message yet.
func (sr *streamResponder) startQuiet() {
	sr.mu.Lock()
	defer sr.mu.Unlock()
	// done first: finish sets it under mu, then writes started without
	// mu, so a timer that fires while finish runs must not read started.
	if !sr.done && !sr.started {
		sr.start(http.StatusOK, sr.contentType())
	}
}

func (sr *streamResponder) contentType() string {
	switch sr.format {
	case StreamNDJSON:
		return contentTypeNDJSON
	case StreamSSE:
		return contentTypeSSE
	}
	return contentTypeJSON
}

// start writes the response headers and flushes them. sr.mu is held.
func (sr *streamResponder) start(code int, contentType string) {
	h := sr.c.w.Header()
	h.Set("Content-Type", contentType)
	h.Set("X-Content-Type-Options", "nosniff")
	if contentType == contentTypeSSE {
		// Caches and buffering proxies (nginx) would hold events back.
		h.Set("Cache-Control", "no-cache")
		h.Set("X-Accel-Buffering", "no")
	}
	if sr.trailers {
		h.Add("Trailer", "Grpc-Status")
		h.Add("Trailer", "Grpc-Message")
	}
	sr.c.w.WriteHeader(code)
	sr.started = true
	_ = sr.rc.Flush()
	sr.lastWrite = time.Now()
	if sr.heartbeat > 0 && code == http.StatusOK && !sr.done {
		sr.stopBeat, sr.beatDone = make(chan struct{}), make(chan struct{})
		go sr.beat()
	}
}

// message writes one response message and flushes it.
func (sr *streamResponder) message(data []byte) error {
	bp := sr.c.h.getBuffer()
	body, ct, err := sr.c.encode(data, *bp)
	defer sr.c.releaseEncoded(bp, body) // written (copied) or dropped by then
	if err != nil {
		return err
	}
	sr.mu.Lock()
	defer sr.mu.Unlock()
	if sr.done {
		return status.Error(codes.Canceled, "the response is finished")
	}
	if !sr.started {
		if !sr.raw {
			ct = sr.contentType()
		}
		sr.start(http.StatusOK, ct)
	}
	var prefix, suffix string
	switch {
	case sr.raw:
	case sr.format == StreamNDJSON:
		suffix = "\n"
	case sr.format == StreamSSE:
		if bytes.IndexByte(body, '\n') >= 0 {
			// protojson writes no newlines, but a data field must not
			// hold one.
			body = bytes.ReplaceAll(body, []byte("\n"), []byte("\ndata: "))
		}
		prefix, suffix = "data: ", "\n\n"
	default:
		prefix, suffix = `{"result":`, "}\n"
	}
	if err := sr.write(prefix, body, suffix); err != nil {
		return status.Errorf(codes.Canceled, "write response: %v", err)
	}
	return nil
}

// write writes prefix, body and suffix without copying body, then
// flushes. sr.mu is held.
func (sr *streamResponder) write(prefix string, body []byte, suffix string) error {
	w := sr.c.w
	if prefix != "" {
		if _, err := w.Write([]byte(prefix)); err != nil {
			return err
		}
	}
	if _, err := w.Write(body); err != nil {
		return err
	}
	if suffix != "" {
		if _, err := w.Write([]byte(suffix)); err != nil {
			return err
		}
	}
	sr.lastWrite = time.Now()
	return sr.rc.Flush()
}

// beat writes an SSE comment whenever the stream was quiet for a
// heartbeat, until finish stops it.
func (sr *streamResponder) beat() {
	defer close(sr.beatDone)
	t := time.NewTicker(sr.heartbeat)
	defer t.Stop()
	for {
		select {
		case <-sr.stopBeat:
			return
		case now := <-t.C:
			sr.mu.Lock()
			if !sr.done && now.Sub(sr.lastWrite) >= sr.heartbeat {
				if err := sr.write(":", nil, "\n\n"); err != nil {
					sr.mu.Unlock()
					return
				}
			}
			sr.mu.Unlock()
		}
	}
}

// finish ends the response with the call's result: nothing more when it
// succeeded, an error line or event when it failed after the response
// started, an error response when it failed before; then the trailers.
func (sr *streamResponder) finish(s *protocol.Stream, err error) {
	sr.mu.Lock()
	stop := sr.stopBeat
	sr.done = true
	if sr.headerTimer != nil {
		// A timer already fired finds done set and writes nothing.
		sr.headerTimer.Stop()
	}
	sr.mu.Unlock()
	if stop != nil {
		close(stop)
		<-sr.beatDone
	}
	// Whoever else could write (the heartbeat) has stopped.
	c := sr.c
	st, errCode := httpStatusOf(err)
	if !sr.started {
		if hdr, sent := s.Headers(); !sent {
			c.setMetadataHeaders(c.w.Header(), metadataHeaderPrefix, hdr)
		}
		code, ct := http.StatusOK, sr.contentType()
		if err != nil {
			setChallenge(c.w.Header(), st)
			code, ct = errCode, contentTypeJSON
		} else if sr.raw {
			ct = contentTypeJSON
		}
		sr.start(code, ct)
		if err == nil && sr.format == StreamSSE && !sr.raw {
			sr.writeSSEEnd(sseEndEvent, c.errs.JSON(st))
		}
		if err != nil {
			if sr.raw || sr.format == StreamEnvelope {
				// grpc-gateway's error body for streams.
				_ = sr.write(`{"error":`, c.errs.JSON(st), "}\n")
			} else {
				// Before any message, a stream fails as any REST call
				// does: the HTTP status and a google.rpc.Status body.
				_ = sr.write("", c.errs.JSON(st), "")
			}
		}
	} else if sr.format == StreamSSE && !sr.raw {
		// Every SSE stream ends with a named event, so that an
		// EventSource knows to close instead of reconnecting and calling
		// again (see sseEndEvent).
		name := sseEndEvent
		if err != nil {
			name = sseErrorEvent
		}
		sr.writeSSEEnd(name, c.errs.JSON(st))
	} else if err != nil {
		body := c.errs.JSON(st)
		switch {
		case sr.format == StreamNDJSON && !sr.raw:
			_ = sr.write("", typedStatus(body), "\n")
		default:
			// grpc-gateway writes the error chunk into raw streams too.
			_ = sr.write(`{"error":`, body, "}\n")
		}
	}
	if !sr.trailers {
		return
	}
	h := c.w.Header()
	h.Set("Grpc-Status", strconv.Itoa(int(st.Code())))
	if msg := st.Message(); msg != "" {
		h.Set("Grpc-Message", encodeGRPCMessage(msg))
	}
	c.setMetadataHeaders(h, http.TrailerPrefix+trailerHeaderPrefix, s.Trailers())
}

// The events that end an SSE stream. A browser's EventSource reconnects
// whenever a response ends, so a client that does not close it on one of
// these would call the method again: each carries a retry field that
// makes such a reconnection wait a day rather than the browser's few
// seconds (a stream cut before its end, by the network, keeps the usual
// quick reconnection). The mid-stream failure is not named "error", which
// is the event EventSource itself fires on a connection failure.
const (
	// sseEndEvent ends a stream that succeeded; its data is the OK
	// google.rpc.Status ({"code":0,...}).
	sseEndEvent = "end"
	// sseErrorEvent ends a stream that failed after it started; its data
	// is the google.rpc.Status.
	sseErrorEvent = "grpc-error"
	// sseFinalRetry is the reconnection delay in milliseconds set by the
	// final event: 24 hours.
	sseFinalRetry = "86400000"
)

// writeSSEEnd writes the final SSE event name with the status JSON body.
// sr.mu need not be held: finish runs after every other writer stopped.
func (sr *streamResponder) writeSSEEnd(name string, body []byte) {
	_ = sr.write("event: "+name+"\nretry: "+sseFinalRetry+"\ndata: ", body, "\n\n")
}

// typedStatus turns a google.rpc.Status JSON object into the same object
// with a leading "@type", as protojson writes a google.protobuf.Any.
func typedStatus(body []byte) []byte {
	rest := bytes.TrimLeft(bytes.TrimPrefix(body, []byte("{")), " ")
	out := make([]byte, 0, len(body)+len(statusType)+12)
	out = append(out, `{"@type":"`+statusType+`"`...)
	if !bytes.HasPrefix(rest, []byte("}")) {
		out = append(out, ',')
	}
	return append(out, rest...)
}

// encodeGRPCMessage percent-encodes a status message as the gRPC over
// HTTP/2 spec writes grpc-message: every byte outside printable ASCII, and
// '%' itself.
func encodeGRPCMessage(msg string) string {
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
