package transcoding

import (
	"bufio"
	"context"
	"errors"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// A client-streaming call (or the request side of a bidirectional one)
// reads its messages from the request body, one JSON value after the
// other: newline-delimited JSON (one message per line, blank lines
// ignored), but also JSON values separated by any whitespace or none, as
// grpc-gateway's decoder reads them, so a pretty-printed message works
// too. Messages are read one at a time, when the proxy asks for the next
// one (RecvMsg), so the upstream paces the client: the body is never
// buffered whole. Each message is bounded by the body limit
// (WithMaxBodyBytes); the body as a whole is not.

// messageReader splits a request body into JSON values.
type messageReader struct {
	r     *bufio.Reader
	ctx   context.Context
	limit int64
	body  *requestBody // budget and end of the call
}

// newMessageReader reads messages of at most limit bytes from body; what
// it buffers of a message is reserved in rb's budget, and given back when
// the next message is asked for (the previous one is then with the
// upstream).
func newMessageReader(ctx context.Context, body io.Reader, limit int64, rb *requestBody) *messageReader {
	if body == nil {
		body = http.NoBody
	}
	return &messageReader{r: bufio.NewReaderSize(body, 32<<10), ctx: ctx, limit: limit, body: rb}
}

func isJSONSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

// next returns the next JSON value of the body, or io.EOF when only
// whitespace is left. It finds where the value ends by its brackets and
// strings only; protojson judges what is inside.
func (mr *messageReader) next() ([]byte, error) {
	mr.body.releaseAll()
	c, err := mr.r.ReadByte()
	for err == nil && isJSONSpace(c) {
		c, err = mr.r.ReadByte()
	}
	if err != nil {
		if errors.Is(err, io.EOF) {
			mr.body.finishRead()
			return nil, io.EOF
		}
		return nil, mr.readError(err)
	}
	var buf []byte
	depth, inString, escaped := 0, false, false
	scalar := c != '{' && c != '[' && c != '"'
	for {
		if int64(len(buf)) >= mr.limit {
			return nil, withHTTPStatus(status.Newf(codes.ResourceExhausted,
				"a request message is larger than the limit of %d bytes", mr.limit), http.StatusRequestEntityTooLarge)
		}
		if len(buf) == cap(buf) {
			size := max(2*cap(buf), 64)
			if !mr.body.grow(int64(size)) {
				return nil, errBudget(mr.body.budget.limit)
			}
			buf = append(make([]byte, 0, size), buf...)
		}
		buf = append(buf, c)
		switch {
		case scalar:
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
				if depth == 0 {
					return buf, nil
				}
			}
		case c == '"':
			inString = true
		case c == '{' || c == '[':
			depth++
		case c == '}' || c == ']':
			depth--
			if depth == 0 {
				return buf, nil
			}
		}
		c, err = mr.r.ReadByte()
		if err != nil {
			if errors.Is(err, io.EOF) {
				if scalar {
					mr.body.finishRead()
					return buf, nil
				}
				return nil, status.Error(codes.InvalidArgument, "the request body ends inside a message")
			}
			return nil, mr.readError(err)
		}
		if scalar && isJSONSpace(c) {
			return buf, nil
		}
	}
}

// readError is a failure to read the body (see requestBody.readError).
func (mr *messageReader) readError(err error) error {
	return mr.body.readError(mr.ctx, err)
}

// rawChunkSize is the most request-body bytes one message of a
// client-streamed google.api.HttpBody carries (less when the body limit
// is lower).
const rawChunkSize = 32 << 10

// chunkReader cuts the request body of a client stream of
// google.api.HttpBody into messages: each read of the body, of at most
// size bytes, becomes one message's data, and the first message carries
// the request's Content-Type. A chunk is read only when the proxy asks
// for the next message, that is once it handed the previous one to the
// upstream's flow control, so a slow upstream slows the client and one
// chunk per call is buffered here; its buffer is held in the budget from
// the read until the next message is asked for.
// grpc-gateway has no such mode: its handlers decode each HttpBody
// message of a stream from JSON.
type chunkReader struct {
	body  io.Reader
	ctx   context.Context
	rb    *requestBody
	buf   []byte
	first bool // no message was returned yet
	eof   bool
}

func newChunkReader(ctx context.Context, body io.Reader, size int64, rb *requestBody) *chunkReader {
	if body == nil {
		body = http.NoBody
	}
	return &chunkReader{body: body, ctx: ctx, rb: rb, buf: make([]byte, 0, size), first: true}
}

// next returns the next chunk, valid until the following call, and
// whether it is the first; io.EOF after the last. An empty body is one
// empty message, so that the upstream still learns its content type.
func (cr *chunkReader) next() (chunk []byte, first bool, err error) {
	cr.rb.releaseAll()
	if cr.eof {
		return nil, false, io.EOF
	}
	if !cr.rb.grow(int64(cap(cr.buf))) {
		return nil, false, errBudget(cr.rb.budget.limit)
	}
	buf := cr.buf[:cap(cr.buf)]
	n := 0
	for n == 0 && err == nil {
		n, err = cr.body.Read(buf)
	}
	switch {
	case errors.Is(err, io.EOF):
		cr.eof = true
		cr.rb.finishRead()
		if n == 0 && !cr.first {
			return nil, false, io.EOF
		}
	case err != nil:
		return nil, false, cr.rb.readError(cr.ctx, err)
	}
	first, cr.first = cr.first, false
	return buf[:n], first, nil
}

// bodyLinger is how long the rest of an abandoned streamed body is read
// and discarded after the response (net/http's own limit of 256 KiB
// applies too): closing a connection with unread data at once would reset
// it, which can destroy the response before the client read it, and
// waiting without a bound would let a client hold the connection.
const bodyLinger = 500 * time.Millisecond

// lingerUnlessRead bounds the discarding of what is left of the body once
// the handler returns, unless it was read to its end.
func lingerUnlessRead(rc *http.ResponseController, rb *requestBody) {
	if !rb.bodyRead() {
		_ = rc.SetReadDeadline(time.Now().Add(bodyLinger))
	}
}

// checkStreamContentType accepts what a streamed JSON body may be
// labelled with: nothing, application/x-ndjson, application/jsonl, or
// what a single JSON body may be (grpc-gateway clients send
// application/json).
func checkStreamContentType(ct string) error {
	if ct == "" {
		return nil
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err == nil && (mt == contentTypeNDJSON || mt == "application/jsonl" || mt == contentTypeJSON ||
		strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json")) {
		return nil
	}
	return withHTTPStatus(status.Newf(codes.InvalidArgument,
		"content type %q is not supported: send application/x-ndjson, one JSON message per line", ct),
		http.StatusUnsupportedMediaType)
}
