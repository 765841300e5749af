package connectproto

import (
	"encoding/binary"
	"errors"
	"io"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Envelope flags of a streaming message: each message of a stream is a
// 5-byte prefix (flags, then the big-endian length) and the payload.
const (
	flagCompressed byte = 0x01
	flagEndStream  byte = 0x02
)

// envelopeReader reads the messages of a streaming request body, one
// envelope per call to next, so that the body is read no faster than the
// upstream asks for messages.
type envelopeReader struct {
	body   io.Reader
	max    int
	gz     *gzipCodec // nil: the request is not compressed
	prefix [5]byte
}

// next returns the payload of the next message, decompressed, or io.EOF
// once the body ends between messages. An envelope cut short, one larger
// than the limit, a compressed one without a declared encoding and the
// end-of-stream flag (which only servers send) fail the call.
func (er *envelopeReader) next() ([]byte, error) {
	n, err := io.ReadFull(er.body, er.prefix[:])
	switch {
	case n == 0 && errors.Is(err, io.EOF):
		return nil, io.EOF
	case err != nil:
		return nil, readError(err, "read envelope prefix")
	}
	flags := er.prefix[0]
	size := binary.BigEndian.Uint32(er.prefix[1:])
	if flags&flagEndStream != 0 {
		return nil, status.Error(codes.InvalidArgument, "protocol error: a client must not send an end-of-stream message")
	}
	if flags&^flagCompressed != 0 {
		return nil, status.Errorf(codes.InvalidArgument, "protocol error: invalid envelope flags %#x", flags)
	}
	if uint64(size) > uint64(er.max) {
		return nil, status.Errorf(codes.ResourceExhausted, "message size %d is larger than the limit %d", size, er.max)
	}
	payload := make([]byte, size)
	if _, err := io.ReadFull(er.body, payload); err != nil {
		return nil, readError(err, "read message")
	}
	if flags&flagCompressed != 0 {
		if er.gz == nil {
			return nil, status.Error(codes.Internal, "protocol error: compressed message, but no Connect-Content-Encoding")
		}
		return er.gz.decompress(payload, er.max)
	}
	return payload, nil
}

// readError words a failed read of the request body: a body cut short is
// the client's protocol error, a read the call's end interrupted says so.
func readError(err error, what string) error {
	if _, ok := status.FromError(err); ok {
		return err
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return status.Errorf(codes.InvalidArgument, "protocol error: %s: incomplete envelope", what)
	}
	return status.Errorf(codes.Canceled, "%s: %v", what, err)
}

// appendPrefix appends an envelope prefix for a payload of n bytes.
func appendPrefix(dst []byte, flags byte, n int) []byte {
	return append(dst, flags, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
}
