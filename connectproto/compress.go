package connectproto

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"strings"
	"sync"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// gzipCodec compresses and decompresses with pooled gzip readers and
// writers: a new gzip.Writer allocates hundreds of KiB.
type gzipCodec struct {
	readers sync.Pool // *gzip.Reader
	writers sync.Pool // *gzip.Writer
}

// decompress gunzips data, refusing output larger than max with
// RESOURCE_EXHAUSTED (a small gzip body can expand a thousandfold).
func (g *gzipCodec) decompress(data []byte, max int) ([]byte, error) {
	zr, _ := g.readers.Get().(*gzip.Reader)
	var err error
	if zr == nil {
		zr, err = gzip.NewReader(bytes.NewReader(data))
	} else {
		err = zr.Reset(bytes.NewReader(data))
	}
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "decompress: %v", err)
	}
	defer g.readers.Put(zr)
	out, err := io.ReadAll(io.LimitReader(zr, int64(max)+1))
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "decompress: %v", err)
	}
	if len(out) > max {
		return nil, status.Errorf(codes.ResourceExhausted, "decompressed message is larger than the limit %d", max)
	}
	return out, nil
}

// compress appends the gzip of data to dst.
func (g *gzipCodec) compress(dst, data []byte) ([]byte, error) {
	buf := bytes.NewBuffer(dst)
	zw, _ := g.writers.Get().(*gzip.Writer)
	if zw == nil {
		zw = gzip.NewWriter(buf)
	} else {
		zw.Reset(buf)
	}
	defer g.writers.Put(zw)
	if _, err := zw.Write(data); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// errUnsupportedEncoding is a request compressed with something other
// than gzip.
var errUnsupportedEncoding = errors.New("unsupported encoding")

// requestEncoding checks a Content-Encoding (unary) or
// Connect-Content-Encoding (stream) value: true for gzip, false for none
// or identity, UNIMPLEMENTED naming what is supported otherwise.
func requestEncoding(v string) (gzipped bool, err error) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "", "identity":
		return false, nil
	case "gzip":
		return true, nil
	}
	return false, status.Errorf(codes.Unimplemented, "unknown compression %q: supported encodings are gzip, identity (%v)", v, errUnsupportedEncoding)
}

// acceptsGzip reports whether an Accept-Encoding (unary) or
// Connect-Accept-Encoding (stream) list names gzip (without q=0).
func acceptsGzip(values []string) bool {
	for _, v := range values {
		for _, part := range strings.Split(v, ",") {
			name, params, _ := strings.Cut(part, ";")
			if !strings.EqualFold(strings.TrimSpace(name), "gzip") {
				continue
			}
			if p := strings.ReplaceAll(params, " ", ""); p == "q=0" || p == "q=0.0" || p == "q=0.00" || p == "q=0.000" {
				continue
			}
			return true
		}
	}
	return false
}
