package jsoncodec

import (
	"google.golang.org/protobuf/encoding/protowire"
)

// message prints data as a message of type p.
func (s *encodeState) message(dst, data []byte, p *msgPlan, depth int) ([]byte, error) {
	if depth > maxEncodeDepth {
		return dst, errDepth
	}
	if p.forbidden != "" {
		return dst, fallback("%s: %s", p.md.FullName(), p.forbidden)
	}
	if p.wkt == wktAny {
		return dst, fallback("google.protobuf.Any needs a type resolver")
	}
	f, err := s.push(data, p)
	if err == nil {
		err = s.checkRequired(f)
	}
	if err == nil {
		switch p.wkt {
		case wktNone:
			dst, err = s.object(dst, f, depth)
		default:
			dst, err = s.wellKnown(dst, f, depth)
		}
	}
	s.pop(f)
	return dst, err
}

// object prints a message's fields as a JSON object, in declaration order.
func (s *encodeState) object(dst []byte, f frame, depth int) ([]byte, error) {
	p := f.p
	dst = append(dst, '{')
	comma := false
	var err error
	for i := range p.fields {
		fp := &p.fields[i]
		if fp.oneof >= 0 && s.oneofs[f.oneofs+int(fp.oneof)] != int32(i) {
			continue // unset oneof members are never printed
		}
		st := s.fields[f.fields+i]
		set := st.last >= 0
		if set && !fp.presence && !fp.list && !fp.isMap && fp.msg == nil && isZero(fp, &s.occs[st.last]) {
			set = false
		}
		if !set && !s.emitUnpopulated {
			continue
		}
		if fp.name == nil {
			return dst, fallback("field %s has an invalid name", fp.fd.FullName())
		}
		if comma {
			dst = append(dst, ',')
		}
		comma = true
		dst = append(dst, fp.name...)
		if !set {
			dst = append(dst, fp.unset...)
			continue
		}
		if dst, err = s.value(dst, f, fp, st, depth); err != nil {
			return dst, err
		}
	}
	return append(dst, '}'), nil
}

// value prints the (set) value of field fp.
func (s *encodeState) value(dst []byte, f frame, fp *fieldPlan, st fieldState, depth int) ([]byte, error) {
	switch {
	case fp.isMap:
		return s.mapObject(dst, f.data, fp, st.first, depth)
	case fp.list:
		return s.list(dst, f.data, fp, st.first, depth)
	case fp.msg != nil:
		sub, err := s.messageBytes(f.data, st)
		if err != nil {
			return dst, err
		}
		return s.message(dst, sub, fp.msg, depth+1)
	}
	o := &s.occs[st.last]
	return appendScalar(dst, fp, o.v, f.data[o.start:o.end])
}

// messageBytes returns the bytes of a singular message field: its one
// occurrence, or all of them concatenated, which proto merges into one.
// Each occurrence must be well framed on its own, or the concatenation
// could parse where the parts do not.
func (s *encodeState) messageBytes(data []byte, st fieldState) ([]byte, error) {
	if st.last < 0 {
		return nil, nil
	}
	if st.first == st.last {
		o := &s.occs[st.first]
		return data[o.start:o.end], nil
	}
	var merged []byte
	for k := st.first; k >= 0; k = s.occs[k].next {
		o := &s.occs[k]
		if !framed(data[o.start:o.end]) {
			return nil, errInvalidWire
		}
		merged = append(merged, data[o.start:o.end]...)
	}
	return merged, nil
}

// framed reports whether b is a sequence of complete fields.
func framed(b []byte) bool {
	for len(b) > 0 {
		num, wt, n := protowire.ConsumeTag(b)
		if n < 0 || num > protowire.MaxValidNumber {
			return false
		}
		m := protowire.ConsumeFieldValue(num, wt, b[n:])
		if m < 0 {
			return false
		}
		b = b[n+m:]
	}
	return true
}

// list prints the occurrences of a repeated field, from first on, as a
// JSON array; packed runs are unpacked.
func (s *encodeState) list(dst, data []byte, fp *fieldPlan, first int32, depth int) ([]byte, error) {
	dst = append(dst, '[')
	comma := false
	var err error
	for k := first; k >= 0; {
		o := s.occs[k] // a copy: nested messages may grow s.occs
		k = o.next
		if o.wt == protowire.BytesType && fp.packable {
			if dst, err = s.packed(dst, data[o.start:o.end], fp, comma); err != nil {
				return dst, err
			}
			comma = true
			continue
		}
		if comma {
			dst = append(dst, ',')
		}
		comma = true
		if fp.msg != nil {
			dst, err = s.message(dst, data[o.start:o.end], fp.msg, depth+1)
		} else {
			dst, err = appendScalar(dst, fp, o.v, data[o.start:o.end])
		}
		if err != nil {
			return dst, err
		}
	}
	return append(dst, ']'), nil
}

// packed prints the values of one non-empty packed run.
func (s *encodeState) packed(dst, b []byte, fp *fieldPlan, comma bool) ([]byte, error) {
	for len(b) > 0 {
		var v uint64
		var n int
		switch fp.wt {
		case protowire.VarintType:
			if b[0] < 0x80 {
				v, n = uint64(b[0]), 1
			} else {
				v, n = protowire.ConsumeVarint(b)
			}
		case protowire.Fixed32Type:
			var v32 uint32
			v32, n = protowire.ConsumeFixed32(b)
			v = uint64(v32)
		default:
			v, n = protowire.ConsumeFixed64(b)
		}
		if n < 0 {
			return dst, errInvalidWire
		}
		b = b[n:]
		if comma {
			dst = append(dst, ',')
		}
		comma = true
		var err error
		if dst, err = appendScalar(dst, fp, v, nil); err != nil {
			return dst, err
		}
	}
	return dst, nil
}

// field prints field idx of the message data for AppendField.
func (s *encodeState) field(dst, data []byte, p *msgPlan, idx int) ([]byte, error) {
	switch {
	case p.forbidden != "":
		return dst, fallback("%s: %s", p.md.FullName(), p.forbidden)
	case p.wkt != wktNone:
		return dst, fallback("response body field of well-known type %s", p.md.FullName())
	case len(p.required) > 0:
		return dst, fallback("%s has required fields", p.md.FullName())
	}
	f, err := s.push(data, p)
	if err == nil {
		dst, err = s.fieldValue(dst, f, idx)
	}
	s.pop(f)
	return dst, err
}

func (s *encodeState) fieldValue(dst []byte, f frame, idx int) ([]byte, error) {
	fp := &f.p.fields[idx]
	st := s.fields[f.fields+idx]
	selected := fp.oneof < 0 || s.oneofs[f.oneofs+int(fp.oneof)] == int32(idx)
	if fp.msg != nil && !fp.list && !fp.isMap {
		var sub []byte
		if selected {
			var err error
			if sub, err = s.messageBytes(f.data, st); err != nil {
				return dst, err
			}
		}
		return s.message(dst, sub, fp.msg, 1)
	}
	if !selected {
		return dst, fallback("response body field %s is an unset oneof member", fp.fd.FullName())
	}
	// The REST adapter prints other fields with EmitUnpopulated set.
	s.emitUnpopulated = true
	set := st.last >= 0
	if set && !fp.presence && !fp.list && !fp.isMap && isZero(fp, &s.occs[st.last]) {
		set = false
	}
	if !set {
		return append(dst, fp.unset...), nil
	}
	return s.value(dst, f, fp, st, 0)
}
