package jsoncodec

import (
	"sync"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// planCache holds what a codec learned about each message type, by
// descriptor identity: an Encoder's print plans and a Decoder's parse
// plans. Plans are built once, under mu, together with every plan their
// message type reaches (recursive types refer to each other), and
// published only when complete, so a reader never sees one being built
// and the lookup on the hot path takes no lock.
type planCache[P any] struct {
	mu    sync.Mutex // serialises building
	plans sync.Map   // protoreflect.MessageDescriptor -> *P
}

// load returns the published plan of md, if any.
func (c *planCache[P]) load(md protoreflect.MessageDescriptor) (*P, bool) {
	p, ok := c.plans.Load(md)
	if !ok {
		return nil, false
	}
	return p.(*P), true
}

// get returns the plan of md, calling build on first use. build returns
// md's plan and every plan it built along the way (md's included); they
// are published together.
func (c *planCache[P]) get(md protoreflect.MessageDescriptor, build func(protoreflect.MessageDescriptor) (*P, map[protoreflect.MessageDescriptor]*P)) *P {
	if p, ok := c.load(md); ok {
		return p
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if p, ok := c.load(md); ok {
		return p
	}
	p, built := build(md)
	for d, q := range built {
		c.plans.Store(d, q)
	}
	return p
}

// wireType is the wire type of one value of kind k.
func wireType(k protoreflect.Kind) protowire.Type {
	switch k {
	case protoreflect.BoolKind, protoreflect.EnumKind, protoreflect.Int32Kind, protoreflect.Sint32Kind,
		protoreflect.Uint32Kind, protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Uint64Kind:
		return protowire.VarintType
	case protoreflect.Fixed32Kind, protoreflect.Sfixed32Kind, protoreflect.FloatKind:
		return protowire.Fixed32Type
	case protoreflect.Fixed64Kind, protoreflect.Sfixed64Kind, protoreflect.DoubleKind:
		return protowire.Fixed64Type
	case protoreflect.GroupKind:
		return protowire.StartGroupType
	default:
		return protowire.BytesType
	}
}
