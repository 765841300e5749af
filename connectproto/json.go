package connectproto

import (
	"bytes"
	"errors"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/sluice-dev/sluice/jsoncodec"
	"github.com/sluice-dev/sluice/registry"
)

// This file is the package's one use of the fast JSON codecs (JSON
// straight to wire bytes and back, protojson as the fallback for what
// they leave to it), so that a move of those codecs touches it alone.

// jsonCodecs are the JSON codecs of one contract snapshot: their plans
// are per message descriptor, and descriptors belong to one snapshot.
type jsonCodecs struct {
	snap     *registry.Snapshot
	enc      *jsoncodec.Encoder
	dec      *jsoncodec.Decoder
	discard  bool
	resolver resolver
}

// resolver is what protojson needs for google.protobuf.Any and extensions.
type resolver interface {
	protoregistry.ExtensionTypeResolver
	protoregistry.MessageTypeResolver
}

func newJSONCodecs(snap *registry.Snapshot, discard bool) *jsonCodecs {
	var r resolver = protoregistry.GlobalTypes
	if snap != nil && snap.Types() != nil {
		r = linkedFallback{snap.Types()}
	}
	return &jsonCodecs{
		snap:     snap,
		enc:      jsoncodec.NewEncoder(jsoncodec.MarshalOptions{}),
		dec:      jsoncodec.NewDecoder(jsoncodec.UnmarshalOptions{DiscardUnknown: discard}),
		discard:  discard,
		resolver: r,
	}
}

// newMessage returns an empty message of md's type: the generated type
// when one is registered, dynamicpb otherwise.
func (j *jsonCodecs) newMessage(md protoreflect.MessageDescriptor) proto.Message {
	if mt, err := j.resolver.FindMessageByName(md.FullName()); err == nil && mt.Descriptor() == md {
		return mt.New().Interface()
	}
	return dynamicpb.NewMessage(md)
}

// decode appends the wire bytes of the JSON request body to dst. A body
// that is not a JSON object of the message's type is INVALID_ARGUMENT.
func (j *jsonCodecs) decode(dst, body []byte, md protoreflect.MessageDescriptor) ([]byte, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, status.Error(codes.InvalidArgument, "unmarshal JSON: a zero-length payload is not a JSON object")
	}
	if out, err := j.dec.AppendMessage(dst, body, md); err == nil {
		return out, nil
	}
	m := j.newMessage(md)
	uo := protojson.UnmarshalOptions{DiscardUnknown: j.discard, Resolver: j.resolver}
	if err := uo.Unmarshal(body, m); err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "unmarshal JSON into %s: %v", md.FullName(), err)
	}
	out, err := proto.MarshalOptions{}.MarshalAppend(dst, m)
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "invalid request: %v", err)
	}
	return out, nil
}

// encode appends the JSON of the wire-format response message to dst.
func (j *jsonCodecs) encode(dst, wire []byte, md protoreflect.MessageDescriptor) ([]byte, error) {
	out, err := j.enc.AppendMessage(dst, wire, md)
	if err == nil {
		return out, nil
	}
	if !errors.Is(err, jsoncodec.ErrFallback) {
		return nil, status.Errorf(codes.Internal, "the upstream sent a malformed %s: %v", md.FullName(), err)
	}
	m := j.newMessage(md)
	if err := (proto.UnmarshalOptions{Resolver: j.resolver}).Unmarshal(wire, m); err != nil {
		return nil, status.Errorf(codes.Internal, "the upstream sent a malformed %s: %v", md.FullName(), err)
	}
	out, err = protojson.MarshalOptions{Resolver: j.resolver}.MarshalAppend(dst, m)
	if err != nil {
		return nil, status.Errorf(codes.Internal, "marshal JSON: %v", err)
	}
	return out, nil
}

// linkedFallback resolves through the contracts, then through the types
// linked into the binary (error details such as google.rpc.ErrorInfo are
// seldom part of an API's contract).
type linkedFallback struct{ primary resolver }

func (r linkedFallback) FindMessageByName(name protoreflect.FullName) (protoreflect.MessageType, error) {
	if mt, err := r.primary.FindMessageByName(name); err == nil {
		return mt, nil
	}
	return protoregistry.GlobalTypes.FindMessageByName(name)
}

func (r linkedFallback) FindMessageByURL(url string) (protoreflect.MessageType, error) {
	if mt, err := r.primary.FindMessageByURL(url); err == nil {
		return mt, nil
	}
	return protoregistry.GlobalTypes.FindMessageByURL(url)
}

func (r linkedFallback) FindExtensionByName(name protoreflect.FullName) (protoreflect.ExtensionType, error) {
	if xt, err := r.primary.FindExtensionByName(name); err == nil {
		return xt, nil
	}
	return protoregistry.GlobalTypes.FindExtensionByName(name)
}

func (r linkedFallback) FindExtensionByNumber(message protoreflect.FullName, field protoreflect.FieldNumber) (protoreflect.ExtensionType, error) {
	if xt, err := r.primary.FindExtensionByNumber(message, field); err == nil {
		return xt, nil
	}
	return protoregistry.GlobalTypes.FindExtensionByNumber(message, field)
}
