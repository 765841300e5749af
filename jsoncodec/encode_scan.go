package jsoncodec

import (
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// fieldState links the occurrences of one field in one message.
type fieldState struct {
	first, last int32 // indexes into state.occs, -1: none
}

// occurrence is one value of a field on the wire: a varint or fixed value
// in v, a length-delimited value (or packed run) at data[start:end].
type occurrence struct {
	v          uint64
	start, end int
	next       int32 // next occurrence of the same field, -1: none
	wt         protowire.Type
}

// frame is one message level: its bytes, its plan and where its scratch
// starts on the state's stacks.
type frame struct {
	data   []byte
	p      *msgPlan
	fields int
	oneofs int
	occs   int
}

// push scans data as a message of type p and records its fields. The
// caller must pop the frame, also on error.
func (s *encodeState) push(data []byte, p *msgPlan) (frame, error) {
	f := frame{data: data, p: p, fields: len(s.fields), oneofs: len(s.oneofs), occs: len(s.occs)}
	s.fields = append(s.fields, p.empty...)
	for range p.nOneofs {
		s.oneofs = append(s.oneofs, -1)
	}
	return f, s.scan(&f)
}

func (s *encodeState) pop(f frame) {
	s.fields, s.oneofs, s.occs = s.fields[:f.fields], s.oneofs[:f.oneofs], s.occs[:f.occs]
}

// scan walks the message's fields once, recording the known ones and
// skipping unknown ones (which protojson drops).
func (s *encodeState) scan(f *frame) error {
	data, p := f.data, f.p
	for i := 0; i < len(data); {
		var tag uint64
		if c := data[i]; c < 0x80 {
			tag = uint64(c)
			i++
		} else {
			v, n := protowire.ConsumeVarint(data[i:])
			if n < 0 {
				return errInvalidWire
			}
			tag = v
			i += n
		}
		if tag>>3 < uint64(protowire.MinValidNumber) || tag>>3 > uint64(protowire.MaxValidNumber) {
			return errInvalidWire
		}
		num, wt := protowire.Number(tag>>3), protowire.Type(tag&7)
		if idx := p.lookup(num); idx >= 0 {
			n, err := s.record(f, idx, wt, i)
			if err != nil {
				return err
			}
			if n >= 0 {
				i += n
				continue
			}
		} else if p.hasExt && p.md.ExtensionRanges().Has(num) {
			return fallback("field %d of %s is in an extension range", num, p.md.FullName())
		}
		// Unknown field, or a known one with another wire type, which
		// proto.Unmarshal keeps as unknown.
		n := protowire.ConsumeFieldValue(num, wt, data[i:])
		if n < 0 {
			return errInvalidWire
		}
		i += n
	}
	return nil
}

// record reads the value of field idx at data[i:] and links it to the
// field. It returns the value's length, or -1 when the wire type does not
// fit the field (the caller then skips it as an unknown field).
func (s *encodeState) record(f *frame, idx int, wt protowire.Type, i int) (int, error) {
	fp := &f.p.fields[idx]
	if wt != fp.wt && (wt != protowire.BytesType || !fp.packable) {
		return -1, nil
	}
	b := f.data[i:]
	o := occurrence{wt: wt, next: -1}
	var n int
	switch wt {
	case protowire.VarintType:
		if len(b) > 0 && b[0] < 0x80 {
			o.v, n = uint64(b[0]), 1
		} else {
			o.v, n = protowire.ConsumeVarint(b)
		}
	case protowire.Fixed32Type:
		var v uint32
		v, n = protowire.ConsumeFixed32(b)
		o.v = uint64(v)
	case protowire.Fixed64Type:
		o.v, n = protowire.ConsumeFixed64(b)
	case protowire.BytesType:
		var v []byte
		v, n = protowire.ConsumeBytes(b)
		o.start, o.end = i+n-len(v), i+n
	default:
		return 0, fallback("group field %s", fp.fd.FullName())
	}
	if n < 0 {
		return 0, errInvalidWire
	}
	st := &s.fields[f.fields+idx]
	if fp.oneof >= 0 {
		sel := &s.oneofs[f.oneofs+int(fp.oneof)]
		if prev := *sel; prev != int32(idx) {
			if prev >= 0 {
				if err := s.dropped(f, int(prev)); err != nil {
					return 0, err
				}
				s.fields[f.fields+int(prev)] = fieldState{first: -1, last: -1}
			}
			*sel = int32(idx)
		}
	}
	if !fp.list && !fp.isMap && fp.msg == nil {
		// Singular scalar: the last value wins.
		if st.last >= 0 {
			if fp.kind == protoreflect.StringKind {
				if prev := &s.occs[st.last]; !utf8.Valid(f.data[prev.start:prev.end]) {
					return 0, fallback("overwritten invalid UTF-8 in %s", fp.fd.FullName())
				}
			}
			s.occs[st.last] = o
			return n, nil
		}
	} else if wt == protowire.BytesType && fp.packable && o.start == o.end {
		return n, nil // an empty packed run adds nothing
	}
	k := int32(len(s.occs))
	s.occs = append(s.occs, o)
	if st.last >= 0 {
		s.occs[st.last].next = k
	} else {
		st.first = k
	}
	st.last = k
	return n, nil
}

// dropped vets the value of oneof member idx that a later member replaces:
// proto.Unmarshal would still have validated it.
func (s *encodeState) dropped(f *frame, idx int) error {
	fp := &f.p.fields[idx]
	st := s.fields[f.fields+idx]
	switch {
	case fp.msg != nil:
		return fallback("oneof message member %s replaced", fp.fd.FullName())
	case fp.kind == protoreflect.StringKind && st.last >= 0:
		if o := &s.occs[st.last]; !utf8.Valid(f.data[o.start:o.end]) {
			return fallback("overwritten invalid UTF-8 in %s", fp.fd.FullName())
		}
	}
	return nil
}

// checkRequired falls back when a proto2 required field is missing:
// protojson (or proto.Unmarshal) reports that.
func (s *encodeState) checkRequired(f frame) error {
	for _, idx := range f.p.required {
		if s.fields[f.fields+int(idx)].last < 0 {
			return fallback("required field %s missing", f.p.fields[idx].fd.FullName())
		}
	}
	return nil
}

// isZero reports whether the occurrence holds the zero value of an
// implicit-presence scalar field, which then counts as unset.
func isZero(fp *fieldPlan, o *occurrence) bool {
	switch {
	case fp.wt == protowire.BytesType:
		return o.start == o.end
	case fp.narrow:
		return uint32(o.v) == 0
	default:
		// Floats compare bits: -0 is set, as in proto.Unmarshal.
		return o.v == 0
	}
}
