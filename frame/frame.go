// Package frame is the currency of the gateway's data path: one gRPC
// message in wire format, moved between peers without being decoded, and
// the pass-through codec that lets grpc-go hand such messages over.
//
// The proxy reads Frames from one leg and writes them to the other; the
// adapters that carry REST and gRPC-Web calls into the chain fill Frames
// from the messages they decode and read Frames they must encode. Only the
// edges that must decode a message do.
package frame

import (
	"fmt"

	"google.golang.org/grpc/encoding"
	_ "google.golang.org/grpc/encoding/proto" // registers the "proto" codec used for non-frame messages
	"google.golang.org/grpc/mem"
)

// Frame is one gRPC message in wire format, as received from a peer. The
// proxy moves Frames between the client and the upstream without decoding
// them; the bytes stay in grpc-go's pooled buffers from the read on one leg
// to the write on the other, so forwarding costs no copy.
//
// A Frame owns one reference to its buffers. Sending it hands that
// reference to grpc-go, which frees the buffers once written, so a Frame
// must be sent at most once. A Frame that is received but never sent must be
// released with Free.
type Frame struct {
	data mem.BufferSlice
}

// Len reports the size of the message in bytes.
func (f *Frame) Len() int { return f.data.Len() }

// Bytes returns a copy of the message's wire-format bytes. It is meant for
// the edges that must look inside a message, not for forwarding.
func (f *Frame) Bytes() []byte { return f.data.Materialize() }

// Free releases the Frame's buffers. It is safe to call on an empty Frame.
func (f *Frame) Free() {
	if f.data != nil {
		f.data.Free()
		f.data = nil
	}
}

// FromBytes returns a Frame holding b. The Frame takes b over: the caller
// must not change it afterwards.
func FromBytes(b []byte) *Frame {
	return &Frame{data: mem.BufferSlice{mem.SliceBuffer(b)}}
}

// SetBytes replaces the Frame's content with b, which the Frame takes
// over, releasing what it held before.
func (f *Frame) SetBytes(b []byte) {
	f.Free()
	f.data = mem.BufferSlice{mem.SliceBuffer(b)}
}

// Codec returns the pass-through codec: Frames go through untouched and
// any other message falls back to the regular proto codec, so the
// gateway's own services (health, reflection) work on the same server.
//
// Its name is empty on purpose. grpc-go derives a client call's content
// subtype from a forced codec's name; an empty name keeps the upstream
// request at plain "application/grpc" unless the caller asks for the
// client's own subtype with grpc.CallContentSubtype.
func Codec() encoding.CodecV2 { return newFrameCodec() }

// frameCodec is the codec Codec returns; see there.
type frameCodec struct {
	fallback encoding.CodecV2
}

func newFrameCodec() frameCodec {
	return frameCodec{fallback: encoding.GetCodecV2("proto")}
}

func (c frameCodec) Marshal(v any) (mem.BufferSlice, error) {
	if f, ok := v.(*Frame); ok {
		data := f.data
		f.data = nil // the reference moves to grpc-go, which frees it after the write
		if data == nil {
			return mem.BufferSlice{}, nil
		}
		return data, nil
	}
	if c.fallback == nil {
		return nil, fmt.Errorf("frame codec: cannot marshal %T", v)
	}
	return c.fallback.Marshal(v)
}

func (c frameCodec) Unmarshal(data mem.BufferSlice, v any) error {
	if f, ok := v.(*Frame); ok {
		f.Free()
		data.Ref() // grpc-go frees its own reference after Unmarshal returns
		f.data = data
		return nil
	}
	if c.fallback == nil {
		return fmt.Errorf("frame codec: cannot unmarshal into %T", v)
	}
	return c.fallback.Unmarshal(data, v)
}

func (frameCodec) Name() string { return "" }
