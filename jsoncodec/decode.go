package jsoncodec

import (
	"sync"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// maxDecodeDepth bounds the nesting of messages and skipped values. It is well
// below protojson's default recursion limit (10000), so that the fast path
// never accepts what protojson would reject for depth, and it bounds the
// cost of writing lengths in place: a nested message longer than 127 bytes
// moves its encoding once per enclosing level.
const maxDecodeDepth = 100

// maxPooledScratch is the largest scratch buffer a pooled state keeps.
const maxPooledScratch = 64 << 10

// UnmarshalOptions are the protojson.UnmarshalOptions the decoder mirrors.
type UnmarshalOptions struct {
	// DiscardUnknown mirrors protojson.UnmarshalOptions.DiscardUnknown:
	// unknown fields are skipped, and unknown enum names leave the field
	// unset, instead of failing the decoding.
	DiscardUnknown bool
}

// Decoder decodes JSON objects into protobuf wire bytes. It caches what it
// learns about each message type by descriptor, so use one Decoder per set
// of descriptors (a route table) and drop it with them. A Decoder is safe
// for concurrent use.
type Decoder struct {
	opts  UnmarshalOptions
	plans planCache[decodePlan]
	pool  sync.Pool // *decodeState
}

// NewDecoder returns a Decoder with the given options.
func NewDecoder(opts UnmarshalOptions) *Decoder {
	return &Decoder{opts: opts}
}

// AppendMessage appends the wire encoding of the JSON object in data, of
// message type md, to dst and returns the extended slice. Leading and
// trailing JSON whitespace is allowed.
//
// When the input is not one the fast path decodes exactly as protojson
// would (including every input protojson rejects), it returns dst
// unchanged (its spare capacity may have been written) and ErrFallback.
// It never fails otherwise. md must not be nil.
func (d *Decoder) AppendMessage(dst, data []byte, md protoreflect.MessageDescriptor) ([]byte, error) {
	p := d.plan(md)
	s, _ := d.pool.Get().(*decodeState)
	if s == nil {
		s = new(decodeState)
	}
	s.data, s.pos, s.depth, s.discard = data, 0, 0, d.opts.DiscardUnknown
	s.skipWS()
	out, ok := s.message(dst, p)
	if ok {
		s.skipWS()
		ok = s.pos == len(data)
	}
	s.data = nil
	s.seen, s.keys, s.keySpans = s.seen[:0], s.keys[:0], s.keySpans[:0]
	if cap(s.tmp) > maxPooledScratch {
		s.tmp = nil // one huge escaped string should not pin memory
	}
	if cap(s.keys) > maxPooledScratch {
		s.keys = nil
	}
	d.pool.Put(s)
	if !ok {
		return dst, ErrFallback
	}
	return out, nil
}

// plan returns the cached plan of md, building it on first use.
func (d *Decoder) plan(md protoreflect.MessageDescriptor) *decodePlan {
	if p, ok := d.plans.load(md); ok {
		return p
	}
	return d.plans.get(md, d.build)
}

// build makes the plan of md and of every message type it reaches.
func (d *Decoder) build(md protoreflect.MessageDescriptor) (*decodePlan, map[protoreflect.MessageDescriptor]*decodePlan) {
	b := decodeBuilder{d: d, local: make(map[protoreflect.MessageDescriptor]*decodePlan)}
	return b.build(md), b.local
}

// decodeState is the scratch of one decoding, pooled across calls.
type decodeState struct {
	data    []byte
	pos     int
	depth   int
	discard bool
	// tmp holds unescaped strings.
	tmp []byte
	// seen is a stack of bit sets: the fields and oneofs seen in each open
	// message.
	seen []uint64
	// keys and keySpans are a stack of the keys seen in each open map.
	keys     []byte
	keySpans []int
}

// openLen reserves one byte for the length of a length-delimited value
// that is about to be appended, and returns where the value starts.
func openLen(dst []byte) ([]byte, int) {
	dst = append(dst, 0)
	return dst, len(dst)
}

// closeLen writes the length of the value appended since openLen, moving
// the value when its length needs more than the reserved byte.
func closeLen(dst []byte, start int) []byte {
	return fixLen(dst, start, 1)
}

// fixLen writes the length of dst[start:] as a varint in the reserved bytes
// before start, moving the value when the length needs another size.
func fixLen(dst []byte, start, reserved int) []byte {
	n := len(dst) - start
	if n < 0x80 && reserved == 1 {
		dst[start-1] = byte(n)
		return dst
	}
	size := protowire.SizeVarint(uint64(n))
	if size > reserved {
		for range size - reserved {
			dst = append(dst, 0)
		}
	}
	at := start - reserved
	copy(dst[at+size:], dst[start:start+n])
	protowire.AppendVarint(dst[:at], uint64(n))
	return dst[:at+size+n]
}

// message decodes one JSON value of the message type p into dst (the
// message's fields, without a tag or length).
func (s *decodeState) message(dst []byte, p *decodePlan) ([]byte, bool) {
	if !s.enter() {
		return nil, false
	}
	var ok bool
	switch p.wkt {
	case wktNone:
		dst, ok = s.object(dst, p)
	case wktTimestamp:
		dst, ok = s.timestamp(dst)
	case wktDuration:
		dst, ok = s.duration(dst)
	case wktWrapper:
		var r result
		mark := len(dst)
		dst, r = s.scalar(dst, &p.fields[0], true)
		switch r {
		case resultZero:
			dst = dst[:mark]
			ok = true
		case resultOK:
			ok = true
		}
	case wktStruct:
		dst, ok = s.structBody(dst)
	case wktListValue:
		dst, ok = s.listValueBody(dst)
	case wktValue:
		dst, ok = s.value(dst)
	case wktFieldMask:
		dst, ok = s.fieldMask(dst)
	case wktEmpty:
		ok = s.empty()
	}
	s.depth--
	return dst, ok
}

// object decodes a JSON object of an ordinary message.
func (s *decodeState) object(dst []byte, p *decodePlan) ([]byte, bool) {
	empty, ok := s.open('{', '}')
	if !ok {
		return nil, false
	}
	if empty {
		return dst, true
	}
	fieldWords := (len(p.fields) + 63) / 64
	base := len(s.seen)
	for range fieldWords + (p.nOneofs+63)/64 {
		s.seen = append(s.seen, 0)
	}
	last := int32(-1)
	for {
		if s.peek() != '"' {
			return nil, false
		}
		start, end, esc, ok := s.scanString()
		if !ok {
			return nil, false
		}
		name := s.data[start:end]
		if esc {
			s.tmp = unescape(s.tmp[:0], name)
			name = s.tmp
		}
		if !s.colon() {
			return nil, false
		}
		idx := int32(-1)
		// Bodies usually list fields in declaration order: try the field
		// after the last one before hashing the name.
		if n := last + 1; int(n) < len(p.fields) && p.fields[n].ownsJSONName && string(name) == p.fields[n].jsonName {
			idx = n
		} else if i, found := p.names[string(name)]; found {
			idx = i
		}
		if idx < 0 {
			if len(name) >= 2 && name[0] == '[' && name[len(name)-1] == ']' {
				return nil, false // an extension name
			}
			if !s.discard || !s.skipValue() {
				return nil, false
			}
		} else {
			last = idx
			w, bit := base+int(idx)/64, uint64(1)<<(idx%64)
			if s.seen[w]&bit != 0 {
				return nil, false // duplicate field
			}
			s.seen[w] |= bit
			f := &p.fields[idx]
			if !f.nullable && s.isNull() {
				s.pos += 4
			} else {
				if f.oneof >= 0 {
					w, bit := base+fieldWords+int(f.oneof)/64, uint64(1)<<(f.oneof%64)
					if s.seen[w]&bit != 0 {
						return nil, false // oneof already set
					}
					s.seen[w] |= bit
				}
				dst, ok = s.fieldValue(dst, f)
				if !ok {
					return nil, false
				}
			}
		}
		more, ok := s.next('}')
		if !ok {
			return nil, false
		}
		if !more {
			s.seen = s.seen[:base]
			return dst, true
		}
	}
}

// fieldValue decodes the value of field f of a message.
func (s *decodeState) fieldValue(dst []byte, f *decodeField) ([]byte, bool) {
	switch {
	case f.key != nil:
		return s.mapValue(dst, f)
	case f.list:
		return s.list(dst, f)
	case f.kind == protoreflect.MessageKind:
		dst = append(dst, f.lenTag...)
		dst, start := openLen(dst)
		dst, ok := s.message(dst, f.msg)
		if !ok {
			return nil, false
		}
		return closeLen(dst, start), true
	}
	mark := len(dst)
	dst, r := s.scalar(dst, f, true)
	switch r {
	case resultOK:
		return dst, true
	case resultZero:
		if f.presence {
			return dst, true
		}
		return dst[:mark], true
	case resultSkip:
		return dst[:mark], true
	}
	return nil, false
}

// list decodes a JSON array for repeated field f.
func (s *decodeState) list(dst []byte, f *decodeField) ([]byte, bool) {
	empty, ok := s.open('[', ']')
	if !ok {
		return nil, false
	}
	if empty {
		return dst, true
	}
	mark := len(dst)
	start := 0
	if f.packed {
		dst = append(dst, f.lenTag...)
		dst, start = openLen(dst)
	}
	for {
		var ok bool
		switch {
		case f.packed:
			var r result
			dst, r = s.scalar(dst, f, false)
			ok = r != resultFail
		case f.kind == protoreflect.MessageKind:
			dst = append(dst, f.lenTag...)
			var at int
			dst, at = openLen(dst)
			dst, ok = s.message(dst, f.msg)
			if ok {
				dst = closeLen(dst, at)
			}
		default:
			var r result
			elem := len(dst)
			dst, r = s.scalar(dst, f, true)
			ok = r != resultFail
			if r == resultSkip {
				dst = dst[:elem]
			}
		}
		if !ok {
			return nil, false
		}
		more, ok := s.next(']')
		if !ok {
			return nil, false
		}
		if !more {
			break
		}
	}
	if f.packed {
		if len(dst) == start {
			return dst[:mark], true // every element was an unknown enum name
		}
		dst = closeLen(dst, start)
	}
	return dst, true
}

// mapValue decodes a JSON object for map field f.
func (s *decodeState) mapValue(dst []byte, f *decodeField) ([]byte, bool) {
	empty, ok := s.open('{', '}')
	if !ok {
		return nil, false
	}
	if empty {
		return dst, true
	}
	ks := s.openKeys()
	for {
		if s.peek() != '"' {
			return nil, false
		}
		key, ok := s.stringValue()
		if !ok || !s.colon() {
			return nil, false
		}
		dst = append(dst, f.lenTag...)
		var start int
		dst, start = openLen(dst)
		dst, ok = appendMapKey(dst, f.key, key)
		if !ok {
			return nil, false
		}
		// The key's encoding identifies it: keys that parse to the same
		// value ("1" and "01") are duplicates to protojson too.
		if !s.addKey(&ks, dst[start:]) {
			return nil, false
		}
		if f.val.kind == protoreflect.MessageKind {
			dst = append(dst, f.val.lenTag...)
			var at int
			dst, at = openLen(dst)
			dst, ok = s.message(dst, f.val.msg)
			if !ok {
				return nil, false
			}
			dst = closeLen(dst, at)
		} else {
			var r result
			dst, r = s.scalar(dst, f.val, true)
			// An unknown enum name leaves the entry out in protojson, and
			// then does not count for duplicates: left to protojson.
			if r == resultFail || r == resultSkip {
				return nil, false
			}
		}
		dst = closeLen(dst, start)
		more, ok := s.next('}')
		if !ok {
			return nil, false
		}
		if !more {
			s.closeKeys(ks)
			return dst, true
		}
	}
}
