package jsoncodec

import (
	"errors"
	"fmt"
	"sync"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// errInvalidWire is what proto.Unmarshal would reject.
var errInvalidWire = errors.New("jsoncodec: cannot parse invalid wire-format data")

// errInvalidUTF8 is a printed string that is not valid UTF-8 (protojson
// refuses to print it; for proto3 strings proto.Unmarshal already does).
var errInvalidUTF8 = errors.New("jsoncodec: string field contains invalid UTF-8")

// errDepth is nesting deeper than proto.Unmarshal's default recursion limit.
var errDepth = errors.New("jsoncodec: exceeded maximum recursion depth")

// maxEncodeDepth matches proto.UnmarshalOptions' default RecursionLimit.
const maxEncodeDepth = 10000

// MarshalOptions mirror the protojson.MarshalOptions fields that change
// the JSON; they have the same meaning as there.
type MarshalOptions struct {
	// EmitUnpopulated prints unset fields: zero scalars, [] and {} for
	// empty repeated and map fields, null for unset fields with presence;
	// unset oneof members stay omitted.
	EmitUnpopulated bool
	// UseProtoNames names fields by their proto name instead of their
	// JSON (lowerCamel) name.
	UseProtoNames bool
	// UseEnumNumbers prints enum values as numbers instead of names.
	UseEnumNumbers bool
}

// Encoder prints messages given in wire format as protojson would with its
// MarshalOptions. It caches one plan per message descriptor (by identity), so keep
// one Encoder per set of descriptors (one per route table) rather than one
// per call. It is safe for concurrent use.
type Encoder struct {
	opts  MarshalOptions
	plans planCache[msgPlan]
	pool  sync.Pool // *encodeState
}

// NewEncoder returns an Encoder printing with opts.
func NewEncoder(opts MarshalOptions) *Encoder {
	return &Encoder{opts: opts}
}

// AppendMessage appends the JSON of the message of type md whose wire
// bytes are data to dst and returns the extended slice. On error dst is
// returned unchanged (its spare capacity may have been written to); an
// error wrapping ErrFallback means: use protojson for this message.
func (e *Encoder) AppendMessage(dst, data []byte, md protoreflect.MessageDescriptor) ([]byte, error) {
	if md == nil {
		return dst, errors.New("jsoncodec: nil message descriptor")
	}
	p := e.plan(md)
	s := e.state()
	out, err := s.message(dst, data, p, 0)
	e.release(s)
	if err != nil {
		return dst, err
	}
	return out, nil
}

// AppendField appends the JSON of the value of field fd of the message of
// type md whose wire bytes are data, the way the REST adapter prints a
// google.api.http response_body: a singular message field as that message
// (an empty one when unset), any other field as protojson prints its value
// with EmitUnpopulated set (so an unset list is [], an unset map {}, an
// unset scalar its zero value or null when it has presence). Only the
// wire data of fd is validated beyond the top-level message's framing.
func (e *Encoder) AppendField(dst, data []byte, md protoreflect.MessageDescriptor, fd protoreflect.FieldDescriptor) ([]byte, error) {
	if md == nil || fd == nil {
		return dst, errors.New("jsoncodec: nil descriptor")
	}
	p := e.plan(md)
	idx := fd.Index()
	if fd.IsExtension() || idx < 0 || idx >= len(p.fields) || p.fields[idx].fd.Number() != fd.Number() ||
		fd.ContainingMessage().FullName() != md.FullName() {
		return dst, fmt.Errorf("jsoncodec: field %s is not a field of %s", fd.FullName(), md.FullName())
	}
	s := e.state()
	out, err := s.field(dst, data, p, idx)
	e.release(s)
	if err != nil {
		return dst, err
	}
	return out, nil
}

// encodeState is the per-call scratch space, recycled through Encoder.pool.
// Every nesting level pushes onto the stacks and pops what it pushed.
type encodeState struct {
	emitUnpopulated bool
	fields          []fieldState // per field of each message being printed
	oneofs          []int32      // per oneof: index of the member set last, or -1
	occs            []occurrence // field occurrences, linked per field
	entries         []mapEntry   // map entries being sorted
}

// Scratch beyond these sizes is dropped instead of pooled, so one huge
// message does not pin memory.
const (
	maxPooledOccs    = 1 << 14
	maxPooledEntries = 1 << 12
)

func (e *Encoder) state() *encodeState {
	s, _ := e.pool.Get().(*encodeState)
	if s == nil {
		s = &encodeState{}
	}
	s.emitUnpopulated = e.opts.EmitUnpopulated
	return s
}

func (e *Encoder) release(s *encodeState) {
	if cap(s.occs) > maxPooledOccs || cap(s.entries) > maxPooledEntries {
		return
	}
	s.fields, s.oneofs, s.occs, s.entries = s.fields[:0], s.oneofs[:0], s.occs[:0], s.entries[:0]
	e.pool.Put(s)
}
