package jsoncodec

import (
	"bytes"
	"cmp"
	"math"
	"slices"
	"strconv"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// mapEntry is one map entry from the wire. Offsets index the containing
// message's data.
type mapEntry struct {
	key    []byte // string keys
	k      uint64 // other keys: the value, signed ones as int64 bits
	v      uint64 // varint or fixed value
	vs, ve int    // value bytes: data[vs:ve]
	seq    int32  // wire order, to keep the last of equal keys
	hasVal bool
}

// mapObject prints a map field's entries, from occurrence first on, as a
// JSON object sorted the way protojson sorts keys; of equal keys the last
// one wins.
func (s *encodeState) mapObject(dst, data []byte, fp *fieldPlan, first int32, depth int) ([]byte, error) {
	base := len(s.entries)
	defer func() { s.entries = s.entries[:base] }()
	for k := first; k >= 0; k = s.occs[k].next {
		o := &s.occs[k]
		e, err := parseEntry(data, o.start, o.end, fp)
		if err != nil {
			return dst, err
		}
		e.seq = int32(len(s.entries) - base)
		s.entries = append(s.entries, e)
	}
	ents := s.entries[base:]
	key := fp.key
	switch key.kind {
	case protoreflect.StringKind:
		slices.SortFunc(ents, compareStringKeys)
	case protoreflect.Int32Kind, protoreflect.Int64Kind, protoreflect.Sint32Kind, protoreflect.Sint64Kind,
		protoreflect.Sfixed32Kind, protoreflect.Sfixed64Kind:
		slices.SortFunc(ents, compareSignedKeys)
	default:
		slices.SortFunc(ents, compareUnsignedKeys)
	}
	n := len(ents)
	dst = append(dst, '{')
	comma := false
	var err error
	for i := range n {
		e := s.entries[base+i] // a copy: nested maps may grow s.entries
		if i+1 < n {
			if next := &s.entries[base+i+1]; e.k == next.k && bytes.Equal(e.key, next.key) {
				if err := dropEntry(data, fp, &e); err != nil {
					return dst, err
				}
				continue
			}
		}
		if comma {
			dst = append(dst, ',')
		}
		comma = true
		switch key.kind {
		case protoreflect.StringKind:
			if dst, err = appendString(dst, e.key); err != nil {
				return dst, err
			}
		case protoreflect.BoolKind:
			if e.k != 0 {
				dst = append(dst, `"true"`...)
			} else {
				dst = append(dst, `"false"`...)
			}
		case protoreflect.Uint32Kind, protoreflect.Uint64Kind, protoreflect.Fixed32Kind, protoreflect.Fixed64Kind:
			dst = append(dst, '"')
			dst = strconv.AppendUint(dst, e.k, 10)
			dst = append(dst, '"')
		default:
			dst = append(dst, '"')
			dst = strconv.AppendInt(dst, int64(e.k), 10)
			dst = append(dst, '"')
		}
		dst = append(dst, ':')
		val := fp.val
		switch {
		case val.msg != nil:
			dst, err = s.message(dst, data[e.vs:e.ve], val.msg, depth+1)
		case e.hasVal:
			dst, err = appendScalar(dst, val, e.v, data[e.vs:e.ve])
		default:
			dst = append(dst, val.zero...)
		}
		if err != nil {
			return dst, err
		}
	}
	return append(dst, '}'), nil
}

// dropEntry vets an entry a later one with the same key replaces.
func dropEntry(data []byte, fp *fieldPlan, e *mapEntry) error {
	switch {
	case !e.hasVal:
	case fp.val.msg != nil:
		return fallback("duplicate key in map %s", fp.fd.FullName())
	case fp.val.kind == protoreflect.StringKind && !utf8.Valid(data[e.vs:e.ve]):
		return fallback("overwritten invalid UTF-8 in map %s", fp.fd.FullName())
	}
	return nil
}

// parseEntry reads the map entry at data[start:end]. A missing key or
// value is the zero value; fields with other numbers or wire types are
// skipped, as proto.Unmarshal does.
func parseEntry(data []byte, start, end int, fp *fieldPlan) (mapEntry, error) {
	var e mapEntry
	hasKey := false
	for i := start; i < end; {
		num, wt, n := protowire.ConsumeTag(data[i:end])
		if n < 0 || num > protowire.MaxValidNumber {
			return e, errInvalidWire
		}
		i += n
		var fp1 *fieldPlan
		switch num {
		case 1:
			fp1 = fp.key
		case 2:
			fp1 = fp.val
		}
		if fp1 == nil || wt != fp1.wt {
			n = protowire.ConsumeFieldValue(num, wt, data[i:end])
			if n < 0 {
				return e, errInvalidWire
			}
			i += n
			continue
		}
		var v uint64
		var vs, ve int
		switch wt {
		case protowire.VarintType:
			v, n = protowire.ConsumeVarint(data[i:end])
		case protowire.Fixed32Type:
			var v32 uint32
			v32, n = protowire.ConsumeFixed32(data[i:end])
			v = uint64(v32)
		case protowire.Fixed64Type:
			v, n = protowire.ConsumeFixed64(data[i:end])
		case protowire.BytesType:
			var b []byte
			b, n = protowire.ConsumeBytes(data[i:end])
			vs, ve = i+n-len(b), i+n
		default:
			return e, fallback("group in map %s", fp.fd.FullName())
		}
		if n < 0 {
			return e, errInvalidWire
		}
		i += n
		if num == 1 {
			if hasKey && fp.key.kind == protoreflect.StringKind && !utf8.Valid(e.key) {
				return e, fallback("overwritten invalid UTF-8 in map %s", fp.fd.FullName())
			}
			e.k, e.key, hasKey = mapKey(fp.key.kind, v), data[vs:ve], true
			continue
		}
		if e.hasVal {
			if fp.val.msg != nil {
				return e, fallback("map %s entry carries its value twice", fp.fd.FullName())
			}
			if fp.val.kind == protoreflect.StringKind && !utf8.Valid(data[e.vs:e.ve]) {
				return e, fallback("overwritten invalid UTF-8 in map %s", fp.fd.FullName())
			}
		}
		e.v, e.vs, e.ve, e.hasVal = v, vs, ve, true
	}
	return e, nil
}

// mapKey normalises a wire value to the key's value: signed kinds as
// int64 bits, unsigned ones as uint64, bool as 0 or 1.
func mapKey(kind protoreflect.Kind, v uint64) uint64 {
	switch kind {
	case protoreflect.Int32Kind:
		return uint64(int64(int32(v)))
	case protoreflect.Sint32Kind:
		return uint64(int64(int32(protowire.DecodeZigZag(v & math.MaxUint32))))
	case protoreflect.Sint64Kind:
		return uint64(protowire.DecodeZigZag(v))
	case protoreflect.Sfixed32Kind:
		return uint64(int64(int32(uint32(v))))
	case protoreflect.Uint32Kind:
		return uint64(uint32(v))
	case protoreflect.BoolKind:
		if v != 0 {
			return 1
		}
		return 0
	}
	return v
}

func compareStringKeys(a, b mapEntry) int {
	if c := bytes.Compare(a.key, b.key); c != 0 {
		return c
	}
	return cmp.Compare(a.seq, b.seq)
}

func compareSignedKeys(a, b mapEntry) int {
	if c := cmp.Compare(int64(a.k), int64(b.k)); c != 0 {
		return c
	}
	return cmp.Compare(a.seq, b.seq)
}

func compareUnsignedKeys(a, b mapEntry) int {
	if c := cmp.Compare(a.k, b.k); c != 0 {
		return c
	}
	return cmp.Compare(a.seq, b.seq)
}
