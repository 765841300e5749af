package transcoding

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// HTTP compression of REST calls, both ways.
//
// Responses are compressed by the client's Accept-Encoding with the first
// of the handler's encodings (WithCompression) the client accepts, when
// they are JSON or text and at least the size threshold: a unary response
// by its length, a streamed one (envelope, NDJSON, SSE) always, flushing
// the compressor with every message so that no message waits for the next
// one. Every REST response then says Vary: Accept-Encoding. gRPC-Web and
// Connect responses are not touched here: their protocols compress
// messages themselves.
//
// Request bodies may be sent with Content-Encoding gzip or zstd (or
// identity); another coding is UNSUPPORTED_MEDIA_TYPE (415). The body
// limit (WithMaxBodyBytes) and the buffered-bytes budget count the
// decompressed bytes, so a small body that expands to gigabytes is refused
// with 413 once it crossed the limit, having held no more than that.

// Content codings.
const (
	encodingGzip     = "gzip"
	encodingZstd     = "zstd"
	encodingIdentity = "identity"
)

// DefaultCompressionMinSize is the smallest unary response compressed
// unless WithCompression says otherwise: below it, the framing and the CPU
// cost more than the bytes saved.
const DefaultCompressionMinSize = 1024

// WithCompression compresses REST responses with the first of encodings
// ("zstd", "gzip"; the handler's preference) that a client's
// Accept-Encoding allows, when a unary response has at least minSize bytes
// (streams are compressed whatever their size). No encodings (the default)
// compresses nothing. Compressed request bodies are accepted either way.
func WithCompression(minSize int, encodings ...string) Option {
	return optionFunc(func(c *config) {
		if minSize < 0 {
			c.errs = append(c.errs, fmt.Errorf("compression threshold must not be negative, got %d", minSize))
		}
		c.compressMin = minSize
		c.encodings = nil
		for _, e := range encodings {
			if e != encodingGzip && e != encodingZstd {
				c.errs = append(c.errs, fmt.Errorf("compression: unknown encoding %q (gzip, zstd)", e))
				continue
			}
			c.encodings = append(c.encodings, e)
		}
	})
}

// compressors recycles response encoders between calls: a zstd encoder
// costs much more to build than to reset.
type compressors struct {
	gzip, zstd sync.Pool
}

// encoder is a response compressor: gzip.Writer and zstd.Encoder.
type encoder interface {
	io.Writer
	Flush() error
	Close() error
	Reset(w io.Writer)
}

func (p *compressors) get(encoding string, w io.Writer) encoder {
	var pool *sync.Pool
	switch encoding {
	case encodingGzip:
		pool = &p.gzip
	default:
		pool = &p.zstd
	}
	if e, ok := pool.Get().(encoder); ok {
		e.Reset(w)
		return e
	}
	if encoding == encodingGzip {
		return gzip.NewWriter(w)
	}
	// One goroutine, and a window a browser's decoder takes.
	z, err := zstd.NewWriter(w, zstd.WithEncoderConcurrency(1), zstd.WithWindowSize(1<<20), zstd.WithEncoderLevel(zstd.SpeedDefault))
	if err != nil {
		panic(err) // the options are constants
	}
	return z
}

func (p *compressors) put(encoding string, e encoder) {
	e.Reset(io.Discard)
	if encoding == encodingGzip {
		p.gzip.Put(e)
	} else {
		p.zstd.Put(e)
	}
}

// negotiateEncoding returns the first of offers that the Accept-Encoding
// values allow (q > 0, by name or by "*"), or "" for none.
func negotiateEncoding(values []string, offers []string) string {
	if len(values) == 0 || len(offers) == 0 {
		return ""
	}
	q := map[string]float64{}
	for _, v := range values {
		for _, part := range strings.Split(v, ",") {
			name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
			name = strings.ToLower(strings.TrimSpace(name))
			if name == "" {
				continue
			}
			weight := 1.0
			for _, p := range strings.Split(params, ";") {
				k, val, ok := strings.Cut(strings.TrimSpace(p), "=")
				if ok && strings.EqualFold(strings.TrimSpace(k), "q") {
					if f, err := strconv.ParseFloat(strings.TrimSpace(val), 64); err == nil {
						weight = f
					}
				}
			}
			if name == "x-gzip" {
				name = encodingGzip
			}
			q[name] = weight
		}
	}
	for _, o := range offers {
		if w, ok := q[o]; ok {
			if w > 0 {
				return o
			}
			continue
		}
		if w, ok := q["*"]; ok && w > 0 {
			return o
		}
	}
	return ""
}

// compressible reports whether a response of content type ct is worth
// compressing: JSON, text and XML, not images or archives a raw
// google.api.HttpBody may carry.
func compressible(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return false
	}
	return strings.HasPrefix(mt, "text/") || mt == contentTypeJSON || mt == contentTypeNDJSON ||
		mt == "application/jsonl" || mt == "application/xml" || mt == "application/javascript" ||
		strings.HasSuffix(mt, "+json") || strings.HasSuffix(mt, "+xml")
}

// compressWriter compresses a REST response with one encoding. It holds
// the status and the first bytes back until it knows whether the response
// is compressed: at the first write for a response whose length is
// declared, at the threshold or the first flush otherwise.
type compressWriter struct {
	http.ResponseWriter
	pool     *compressors
	encoding string
	min      int

	code    int
	decided bool
	enc     encoder // nil: identity
	held    []byte
}

var _ http.ResponseWriter = (*compressWriter)(nil)

// Unwrap lets http.ResponseController reach the connection's writer
// (deadlines, full duplex).
func (cw *compressWriter) Unwrap() http.ResponseWriter { return cw.ResponseWriter }

func (cw *compressWriter) WriteHeader(code int) {
	if cw.code != 0 || cw.decided {
		return
	}
	if code < 200 {
		cw.ResponseWriter.WriteHeader(code)
		return
	}
	cw.code = code
	if code == http.StatusNoContent || code == http.StatusNotModified {
		cw.decide(false)
		return
	}
	if cl := cw.Header().Get("Content-Length"); cl != "" {
		n, err := strconv.Atoi(cl)
		cw.decide(err == nil && n >= cw.min)
		return
	}
	if len(cw.Header().Values("Trailer")) > 0 {
		// The trailers' values are set after the body: the header must
		// be out before then, or they would be sent as headers too. A
		// response with trailers (streams, clients that ask for them) is
		// compressed whatever its length.
		cw.decide(true)
	}
}

// decide writes the status with, or without, compression.
func (cw *compressWriter) decide(compress bool) {
	cw.decided = true
	h := cw.Header()
	if compress && h.Get("Content-Encoding") == "" && compressible(h.Get("Content-Type")) {
		h.Set("Content-Encoding", cw.encoding)
		h.Del("Content-Length")
		cw.enc = cw.pool.get(cw.encoding, cw.ResponseWriter)
	}
	code := cw.code
	if code == 0 {
		code = http.StatusOK
	}
	cw.ResponseWriter.WriteHeader(code)
}

func (cw *compressWriter) Write(p []byte) (int, error) {
	if !cw.decided {
		if cw.code == 0 {
			cw.WriteHeader(http.StatusOK)
		}
		if !cw.decided {
			if len(cw.held)+len(p) < cw.min {
				cw.held = append(cw.held, p...)
				return len(p), nil
			}
			cw.decide(true)
			if err := cw.writeHeld(); err != nil {
				return 0, err
			}
		}
	}
	if cw.enc != nil {
		return cw.enc.Write(p)
	}
	return cw.ResponseWriter.Write(p)
}

func (cw *compressWriter) writeHeld() error {
	if len(cw.held) == 0 {
		return nil
	}
	held := cw.held
	cw.held = nil
	var err error
	if cw.enc != nil {
		_, err = cw.enc.Write(held)
	} else {
		_, err = cw.ResponseWriter.Write(held)
	}
	return err
}

// FlushError flushes what was written, through the compressor: a stream's
// messages are flushed one by one, and each must reach the client
// whole. A stream is compressed whatever its size.
func (cw *compressWriter) FlushError() error {
	if !cw.decided {
		cw.decide(true)
		if err := cw.writeHeld(); err != nil {
			return err
		}
	}
	if cw.enc != nil {
		if err := cw.enc.Flush(); err != nil {
			return err
		}
	}
	return http.NewResponseController(cw.ResponseWriter).Flush()
}

// close ends the response: what was held is written as it is (the
// response was smaller than the threshold), or the compressed stream is
// ended.
func (cw *compressWriter) close() {
	if !cw.decided {
		if cw.code == 0 && len(cw.held) == 0 {
			return // nothing was written: net/http's defaults apply
		}
		cw.decide(false)
		_ = cw.writeHeld()
	}
	if cw.enc != nil {
		_ = cw.enc.Close()
		cw.pool.put(cw.encoding, cw.enc)
		cw.enc = nil
	}
}

// decodeBody replaces r's body with its decoding by its Content-Encoding,
// which the body limit then bounds, and returns what releases the
// decoder. An unknown coding is 415.
func decodeBody(r *http.Request, limit int64) (func(), error) {
	ce := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding")))
	if ce == "" || ce == encodingIdentity || r.Body == nil || r.Body == http.NoBody {
		return func() {}, nil
	}
	if ce == "x-gzip" {
		ce = encodingGzip
	}
	if ce != encodingGzip && ce != encodingZstd {
		return nil, withHTTPStatus(status.Newf(codes.InvalidArgument,
			"content encoding %q is not supported: send gzip, zstd or identity", r.Header.Get("Content-Encoding")),
			http.StatusUnsupportedMediaType)
	}
	d := &lazyDecoder{raw: r.Body, encoding: ce, window: limit}
	r.Body = d
	r.ContentLength = -1
	return d.release, nil
}

// lazyDecoder decodes a request body, starting at its first read: the
// decoders read the body's header when they are made, and a body is read
// only once the policies accepted the call.
type lazyDecoder struct {
	raw      io.ReadCloser
	encoding string
	window   int64

	mu  sync.Mutex
	rd  io.Reader
	gz  *gzip.Reader
	zd  *zstd.Decoder
	err error
}

func (d *lazyDecoder) Read(p []byte) (int, error) {
	if d.rd == nil && d.err == nil {
		d.mu.Lock()
		switch d.encoding {
		case encodingGzip:
			d.gz, d.err = gzip.NewReader(d.raw)
			d.rd = d.gz
		default:
			// A frame may ask for a window as large as the body limit
			// (at least zstd's minimum), no more.
			window := uint64(max(d.window, zstd.MinWindowSize))
			d.zd, d.err = zstd.NewReader(d.raw, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true),
				zstd.WithDecoderMaxWindow(min(window, zstd.MaxWindowSize)))
			d.rd = d.zd
		}
		d.mu.Unlock()
		if d.err != nil {
			d.err = fmt.Errorf("%s body: %w", d.encoding, d.err)
		}
	}
	if d.err != nil {
		return 0, d.err
	}
	n, err := d.rd.Read(p)
	if err != nil && !errors.Is(err, io.EOF) {
		err = fmt.Errorf("%s body: %w", d.encoding, err)
	}
	return n, err
}

func (d *lazyDecoder) Close() error { return d.raw.Close() }

// release frees the decoder's resources once the handler is done.
func (d *lazyDecoder) release() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.zd != nil {
		d.zd.Close()
	}
}
