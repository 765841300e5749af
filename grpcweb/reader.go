package grpcweb

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"io"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Message flags of the five-byte prefix of every gRPC-Web message.
const (
	flagCompressed = 0x01
	flagTrailer    = 0x80
	prefixLen      = 5
)

// messageReader cuts a request body into its length-prefixed messages,
// one at a time, when asked: a message is read only when the upstream
// wants the next one. Reads may end anywhere (a message split across
// reads is waited for); a body that ends inside a message is an error.
type messageReader struct {
	r        io.Reader
	max      int
	gzip     bool // the request's grpc-encoding is gzip
	prefix   [prefixLen]byte
	inflater *gzip.Reader
}

// next returns the next message, io.EOF at the end of the body, or a
// status error: INTERNAL for malformed framing, RESOURCE_EXHAUSTED for a
// message over the limit, or what reading the body failed with.
func (mr *messageReader) next() ([]byte, error) {
	n, err := io.ReadFull(mr.r, mr.prefix[:])
	switch {
	case err == nil:
	case errors.Is(err, io.EOF) && n == 0:
		return nil, io.EOF
	case errors.Is(err, io.ErrUnexpectedEOF):
		return nil, status.Errorf(codes.Internal, "grpc-web: the request body ends inside a message prefix (%d of 5 bytes)", n)
	default:
		return nil, err
	}
	flags := mr.prefix[0]
	size := binary.BigEndian.Uint32(mr.prefix[1:])
	switch {
	case flags&flagTrailer != 0:
		return nil, status.Error(codes.Internal, "grpc-web: a request may not carry a trailer frame")
	case flags&^flagCompressed != 0:
		return nil, status.Errorf(codes.Internal, "grpc-web: unknown message flags 0x%02x", flags)
	case flags&flagCompressed != 0 && !mr.gzip:
		return nil, status.Error(codes.Internal, "grpc-web: a compressed message in a request without grpc-encoding")
	case uint64(size) > uint64(mr.max):
		return nil, status.Errorf(codes.ResourceExhausted, "grpc-web: request message of %d bytes is larger than the limit of %d", size, mr.max)
	}
	msg := make([]byte, size)
	if _, err := io.ReadFull(mr.r, msg); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			return nil, status.Errorf(codes.Internal, "grpc-web: the request body ends inside a message of %d bytes", size)
		}
		return nil, err
	}
	if flags&flagCompressed != 0 {
		return mr.inflate(msg)
	}
	return msg, nil
}

// inflate decompresses one gzip message, refusing one whose content is
// over the limit once it grows past it (a small bomb stays small).
func (mr *messageReader) inflate(msg []byte) ([]byte, error) {
	var err error
	if mr.inflater == nil {
		mr.inflater, err = gzip.NewReader(bytes.NewReader(msg))
	} else {
		err = mr.inflater.Reset(bytes.NewReader(msg))
	}
	if err != nil {
		return nil, status.Errorf(codes.Internal, "grpc-web: decompress request message: %v", err)
	}
	out, err := io.ReadAll(io.LimitReader(mr.inflater, int64(mr.max)+1))
	if err != nil {
		return nil, status.Errorf(codes.Internal, "grpc-web: decompress request message: %v", err)
	}
	if len(out) > mr.max {
		return nil, status.Errorf(codes.ResourceExhausted, "grpc-web: request message is larger than the limit of %d bytes once decompressed", mr.max)
	}
	return out, nil
}

// base64Reader decodes a grpc-web-text request body as it is read. The
// body is base64 (standard alphabet) of the binary body, possibly in
// several padded pieces ("AAE=AAE="), as clients may encode each message
// on its own; reads may end in the middle of a four-character quantum,
// which is kept until the rest arrives. Line breaks are skipped.
type base64Reader struct {
	r       io.Reader
	quantum [4]byte
	n       int    // characters in quantum
	out     []byte // decoded bytes not returned yet
	in      []byte // read buffer
	err     error  // the underlying reader's error, once it came
}

func newBase64Reader(r io.Reader) *base64Reader {
	return &base64Reader{r: r, in: make([]byte, 4096)}
}

// errBase64 is a body that is not base64.
var errBase64 = status.Error(codes.InvalidArgument, "grpc-web-text: the request body is not valid base64")

func (b *base64Reader) Read(p []byte) (int, error) {
	for len(b.out) == 0 {
		if b.err != nil {
			if errors.Is(b.err, io.EOF) && b.n != 0 {
				return 0, status.Error(codes.InvalidArgument, "grpc-web-text: the request body ends inside a base64 quantum")
			}
			return 0, b.err
		}
		n, err := b.r.Read(b.in)
		if derr := b.decode(b.in[:n]); derr != nil {
			b.err = derr
			return 0, derr
		}
		if err != nil {
			b.err = err
		}
	}
	n := copy(p, b.out)
	b.out = b.out[n:]
	return n, nil
}

// decode appends what the characters in complete decode to b.out,
// carrying an incomplete quantum over.
func (b *base64Reader) decode(in []byte) error {
	b.out = b.out[:0]
	for _, c := range in {
		if c == '\r' || c == '\n' {
			continue
		}
		b.quantum[b.n] = c
		b.n++
		if b.n < 4 {
			continue
		}
		b.n = 0
		var dec [3]byte
		q := b.quantum
		v0, v1 := decodeChar(q[0]), decodeChar(q[1])
		if v0 < 0 || v1 < 0 {
			return errBase64
		}
		switch {
		case q[2] == '=' && q[3] == '=':
			dec[0] = byte(v0<<2 | v1>>4)
			b.out = append(b.out, dec[0])
		case q[3] == '=':
			v2 := decodeChar(q[2])
			if v2 < 0 {
				return errBase64
			}
			dec[0], dec[1] = byte(v0<<2|v1>>4), byte(v1<<4|v2>>2)
			b.out = append(b.out, dec[:2]...)
		default:
			v2, v3 := decodeChar(q[2]), decodeChar(q[3])
			if v2 < 0 || v3 < 0 {
				return errBase64
			}
			dec[0], dec[1], dec[2] = byte(v0<<2|v1>>4), byte(v1<<4|v2>>2), byte(v2<<6|v3)
			b.out = append(b.out, dec[:]...)
		}
	}
	return nil
}

// decodeChar is the value of one character of the standard base64
// alphabet, -1 for any other.
func decodeChar(c byte) int {
	switch {
	case 'A' <= c && c <= 'Z':
		return int(c - 'A')
	case 'a' <= c && c <= 'z':
		return int(c-'a') + 26
	case '0' <= c && c <= '9':
		return int(c-'0') + 52
	case c == '+':
		return 62
	case c == '/':
		return 63
	}
	return -1
}
