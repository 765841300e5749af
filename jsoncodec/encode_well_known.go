package jsoncodec

import (
	"math"
	"strconv"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// wellKnown prints the well-known types with a special JSON form.
func (s *encodeState) wellKnown(dst []byte, f frame, depth int) ([]byte, error) {
	p := f.p
	switch p.wkt {
	case wktTimestamp:
		return appendTimestamp(dst, int64(s.scalar(f, 1)), int64(int32(s.scalar(f, 2))))
	case wktDuration:
		return appendDuration(dst, int64(s.scalar(f, 1)), int64(int32(s.scalar(f, 2))))
	case wktWrapper:
		idx := p.lookup(1)
		fp, st := &p.fields[idx], s.fields[f.fields+idx]
		if st.last < 0 {
			return append(dst, fp.zero...), nil
		}
		o := &s.occs[st.last]
		return appendScalar(dst, fp, o.v, f.data[o.start:o.end])
	case wktStruct:
		idx := p.lookup(1)
		return s.mapObject(dst, f.data, &p.fields[idx], s.fields[f.fields+idx].first, depth)
	case wktListValue:
		idx := p.lookup(1)
		return s.list(dst, f.data, &p.fields[idx], s.fields[f.fields+idx].first, depth)
	case wktValue:
		idx := int(s.oneofs[f.oneofs])
		if idx < 0 {
			return dst, fallback("google.protobuf.Value with no kind set")
		}
		fp, st := &p.fields[idx], s.fields[f.fields+idx]
		if fp.kind == protoreflect.DoubleKind {
			if v := math.Float64frombits(s.occs[st.last].v); math.IsNaN(v) || math.IsInf(v, 0) {
				return dst, fallback("google.protobuf.Value number %v", v)
			}
		}
		return s.value(dst, f, fp, st, depth)
	case wktFieldMask:
		return s.fieldMask(dst, f)
	}
	return dst, fallback("well-known type %s", p.md.FullName())
}

// scalar returns the last value of the varint or fixed field num, 0 when
// unset.
func (s *encodeState) scalar(f frame, num protowire.Number) uint64 {
	idx := f.p.lookup(num)
	if st := s.fields[f.fields+idx]; st.last >= 0 {
		return s.occs[st.last].v
	}
	return 0
}

// appendTimestamp prints RFC 3339 in UTC with 0, 3, 6 or 9 fractional
// digits, as protojson does.
func appendTimestamp(dst []byte, secs, nanos int64) ([]byte, error) {
	if secs < minTimestampSeconds || secs > maxTimestampSeconds {
		return dst, fallback("google.protobuf.Timestamp seconds out of range %d", secs)
	}
	if nanos < 0 || nanos > maxNanos {
		return dst, fallback("google.protobuf.Timestamp nanos out of range %d", nanos)
	}
	days := secs / 86400
	rem := secs % 86400
	if rem < 0 {
		days--
		rem += 86400
	}
	year, month, day := civil(days)
	dst = append(dst, '"')
	dst = appendDigits(dst, year, 4)
	dst = append(dst, '-')
	dst = appendDigits(dst, month, 2)
	dst = append(dst, '-')
	dst = appendDigits(dst, day, 2)
	dst = append(dst, 'T')
	dst = appendDigits(dst, rem/3600, 2)
	dst = append(dst, ':')
	dst = appendDigits(dst, rem/60%60, 2)
	dst = append(dst, ':')
	dst = appendDigits(dst, rem%60, 2)
	dst = appendFraction(dst, nanos)
	return append(dst, 'Z', '"'), nil
}

// civil converts days since 1970-01-01 to a proleptic Gregorian date.
func civil(days int64) (year, month, day int64) {
	z := days + 719468 // days since 0000-03-01
	era := z / 146097
	if z < 0 && z%146097 != 0 {
		era--
	}
	doe := z - era*146097                                  // [0, 146096]
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365 // [0, 399]
	doy := doe - (365*yoe + yoe/4 - yoe/100)               // [0, 365]
	mp := (5*doy + 2) / 153                                // [0, 11], from March
	day = doy - (153*mp+2)/5 + 1
	month = mp + 3
	if month > 12 {
		month -= 12
	}
	year = yoe + era*400
	if month <= 2 {
		year++
	}
	return year, month, day
}

// appendDigits prints 0 <= v with at least width digits.
func appendDigits(dst []byte, v int64, width int) []byte {
	var buf [20]byte
	i := len(buf)
	for v >= 10 || width > 1 {
		i--
		buf[i] = byte('0' + v%10)
		v /= 10
		width--
	}
	i--
	buf[i] = byte('0' + v)
	return append(dst, buf[i:]...)
}

// appendFraction prints nanos as nothing, .mmm, .uuuuuu or .nnnnnnnnn.
func appendFraction(dst []byte, nanos int64) []byte {
	switch {
	case nanos == 0:
		return dst
	case nanos%1000000 == 0:
		return appendDigits(append(dst, '.'), nanos/1000000, 3)
	case nanos%1000 == 0:
		return appendDigits(append(dst, '.'), nanos/1000, 6)
	}
	return appendDigits(append(dst, '.'), nanos, 9)
}

// appendDuration prints seconds with 0, 3, 6 or 9 fractional digits and an
// "s" suffix, as protojson does.
func appendDuration(dst []byte, secs, nanos int64) ([]byte, error) {
	if secs < -maxDurationSeconds || secs > maxDurationSeconds {
		return dst, fallback("google.protobuf.Duration seconds out of range %d", secs)
	}
	if nanos < -maxNanos || nanos > maxNanos {
		return dst, fallback("google.protobuf.Duration nanos out of range %d", nanos)
	}
	if (secs > 0 && nanos < 0) || (secs < 0 && nanos > 0) {
		return dst, fallback("google.protobuf.Duration signs of seconds and nanos do not match")
	}
	dst = append(dst, '"')
	if secs < 0 || nanos < 0 {
		dst = append(dst, '-')
		secs, nanos = -secs, -nanos
	}
	dst = strconv.AppendInt(dst, secs, 10)
	dst = appendFraction(dst, nanos)
	return append(dst, 's', '"'), nil
}

// fieldMask prints the paths converted to lowerCamel and joined by ",".
// protojson refuses paths that are not names or whose conversion does not
// reverse; those fall back so it reports them.
func (s *encodeState) fieldMask(dst []byte, f frame) ([]byte, error) {
	idx := f.p.lookup(1)
	dst = append(dst, '"')
	comma := false
	for k := s.fields[f.fields+idx].first; k >= 0; k = s.occs[k].next {
		o := &s.occs[k]
		path := f.data[o.start:o.end]
		if !utf8.Valid(path) {
			return dst, errInvalidUTF8
		}
		if !reversiblePath(path) {
			return dst, fallback("google.protobuf.FieldMask path %q", path)
		}
		if comma {
			dst = append(dst, ',')
		}
		comma = true
		upper := false
		for _, c := range path {
			switch {
			case c == '_':
				upper = true
			case upper:
				dst = append(dst, c-('a'-'A'))
				upper = false
			default:
				dst = append(dst, c)
			}
		}
	}
	return append(dst, '"'), nil
}

// reversiblePath reports whether path is a valid dotted name whose
// lowerCamel form converts back to it: lower-case letters, digits and
// underscores, each underscore followed by a letter, no segment empty or
// starting with a digit.
func reversiblePath(path []byte) bool {
	segStart := true
	for i, c := range path {
		switch {
		case c == '.':
			if segStart {
				return false
			}
			segStart = true
			continue
		case c == '_':
			if i+1 >= len(path) || path[i+1] < 'a' || path[i+1] > 'z' {
				return false
			}
		case c >= 'a' && c <= 'z':
		case c >= '0' && c <= '9':
			if segStart {
				return false
			}
		default:
			return false
		}
		segStart = false
	}
	return !segStart
}
