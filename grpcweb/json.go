package grpcweb

import (
	"errors"
	"sync/atomic"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/sluice-dev/sluice/jsoncodec"
)

// This file is the adapter's one use of the fast JSON codecs
// (application/grpc-web+json): they turn JSON straight into wire bytes and
// back, leaving to protojson (with the contracts' types, for Any) what
// they do not take exactly as it would. The JSON is protojson's defaults:
// lowerCamelCase names, unpopulated fields left out, unknown fields an
// error, as the Connect and gRPC-Web JSON codecs write and read it.

// jsonCodecs are the fast codecs of one snapshot of the contracts: they
// cache plans per message descriptor, and descriptors belong to one
// snapshot.
type jsonCodecs struct {
	contracts Contracts
	enc       *jsoncodec.Encoder
	dec       *jsoncodec.Decoder
}

// codecCache holds the codecs of the contracts the last +json call used.
type codecCache struct{ p atomic.Pointer[jsonCodecs] }

func (c *codecCache) get(contracts Contracts) *jsonCodecs {
	if jc := c.p.Load(); jc != nil && jc.contracts == contracts {
		return jc
	}
	jc := &jsonCodecs{
		contracts: contracts,
		enc:       jsoncodec.NewEncoder(jsoncodec.MarshalOptions{}),
		dec:       jsoncodec.NewDecoder(jsoncodec.UnmarshalOptions{}),
	}
	c.p.Store(jc)
	return jc
}

// toWire turns one JSON request message of type md into wire bytes.
func (jc *jsonCodecs) toWire(data []byte, md protoreflect.MessageDescriptor) ([]byte, error) {
	if out, err := jc.dec.AppendMessage(nil, data, md); err == nil {
		return out, nil
	}
	m := dynamicpb.NewMessage(md)
	if err := (protojson.UnmarshalOptions{Resolver: jc.contracts.Types()}).Unmarshal(data, m); err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "grpc-web: request message is not %s in JSON: %v", md.FullName(), err)
	}
	out, err := proto.Marshal(m)
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "grpc-web: invalid request message: %v", err)
	}
	return out, nil
}

// toJSON turns one response message of type md from wire bytes into JSON.
func (jc *jsonCodecs) toJSON(data []byte, md protoreflect.MessageDescriptor) ([]byte, error) {
	out, err := jc.enc.AppendMessage(nil, data, md)
	if err == nil {
		return out, nil
	}
	if !errors.Is(err, jsoncodec.ErrFallback) {
		return nil, status.Errorf(codes.Internal, "grpc-web: response message is not a valid %s: %v", md.FullName(), err)
	}
	m := dynamicpb.NewMessage(md)
	if err := proto.Unmarshal(data, m); err != nil {
		return nil, status.Errorf(codes.Internal, "grpc-web: response message is not a valid %s: %v", md.FullName(), err)
	}
	out, err = (protojson.MarshalOptions{Resolver: jc.contracts.Types()}).Marshal(m)
	if err != nil {
		return nil, status.Errorf(codes.Internal, "grpc-web: response message to JSON: %v", err)
	}
	return out, nil
}
