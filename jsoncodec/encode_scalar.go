package jsoncodec

import (
	"encoding/base64"
	"math"
	"strconv"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// appendScalar appends one scalar value of fp's kind: v is the varint or
// fixed value from the wire, b the bytes of a string or bytes value.
func appendScalar(dst []byte, fp *fieldPlan, v uint64, b []byte) ([]byte, error) {
	switch fp.kind {
	case protoreflect.BoolKind:
		if v != 0 {
			return append(dst, "true"...), nil
		}
		return append(dst, "false"...), nil
	case protoreflect.StringKind:
		return appendString(dst, b)
	case protoreflect.BytesKind:
		dst = append(dst, '"')
		dst = base64.StdEncoding.AppendEncode(dst, b)
		return append(dst, '"'), nil
	case protoreflect.EnumKind:
		return fp.enum.append(dst, protoreflect.EnumNumber(int32(v))), nil
	case protoreflect.Int32Kind:
		return strconv.AppendInt(dst, int64(int32(v)), 10), nil
	case protoreflect.Sint32Kind:
		return strconv.AppendInt(dst, int64(int32(protowire.DecodeZigZag(v&math.MaxUint32))), 10), nil
	case protoreflect.Sfixed32Kind:
		return strconv.AppendInt(dst, int64(int32(uint32(v))), 10), nil
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return strconv.AppendUint(dst, uint64(uint32(v)), 10), nil
	case protoreflect.Int64Kind, protoreflect.Sfixed64Kind:
		dst = append(dst, '"')
		dst = strconv.AppendInt(dst, int64(v), 10)
		return append(dst, '"'), nil
	case protoreflect.Sint64Kind:
		dst = append(dst, '"')
		dst = strconv.AppendInt(dst, protowire.DecodeZigZag(v), 10)
		return append(dst, '"'), nil
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		dst = append(dst, '"')
		dst = strconv.AppendUint(dst, v, 10)
		return append(dst, '"'), nil
	case protoreflect.FloatKind:
		return appendFloat(dst, float64(math.Float32frombits(uint32(v))), 32), nil
	case protoreflect.DoubleKind:
		return appendFloat(dst, math.Float64frombits(v), 64), nil
	}
	return dst, fallback("field %s of kind %v", fp.fd.FullName(), fp.kind)
}

// append prints enum value n: null for google.protobuf.NullValue, its
// quoted name, or its number when asked for or when it has no name.
func (ep *enumPlan) append(dst []byte, n protoreflect.EnumNumber) []byte {
	if ep.null {
		return append(dst, "null"...)
	}
	if !ep.numbers {
		var q []byte
		if ep.sparse != nil {
			q = ep.sparse[n]
		} else if n >= 0 && int(n) < len(ep.dense) {
			q = ep.dense[n]
		}
		if q != nil {
			return append(dst, q...)
		}
	}
	return strconv.AppendInt(dst, int64(n), 10)
}

// appendFloat prints a float the way protojson does: NaN and infinities
// as strings, the shortest representation that round-trips at bitSize,
// exponent form outside [1e-6, 1e21) with a two-digit negative exponent
// trimmed to one ("1e-07" becomes "1e-7").
func appendFloat(dst []byte, f float64, bitSize int) []byte {
	switch {
	case math.IsNaN(f):
		return append(dst, `"NaN"`...)
	case math.IsInf(f, 1):
		return append(dst, `"Infinity"`...)
	case math.IsInf(f, -1):
		return append(dst, `"-Infinity"`...)
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 {
		if bitSize == 64 && (abs < 1e-6 || abs >= 1e21) ||
			bitSize == 32 && (float32(abs) < 1e-6 || float32(abs) >= 1e21) {
			format = 'e'
		}
	}
	dst = strconv.AppendFloat(dst, f, format, -1, bitSize)
	if format == 'e' {
		n := len(dst)
		if n >= 4 && dst[n-4] == 'e' && dst[n-3] == '-' && dst[n-2] == '0' {
			dst[n-2] = dst[n-1]
			dst = dst[:n-1]
		}
	}
	return dst
}

const hexDigits = "0123456789abcdef"

// appendString prints s as a JSON string with protojson's escapes: \" \\
// \b \f \n \r \t, \u00XX for other control characters, everything else
// (including U+2028, <, > and &) as is. Invalid UTF-8 is an error.
func appendString(dst, s []byte) ([]byte, error) {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= ' ' && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, n := utf8.DecodeRune(s[i:])
		if r == utf8.RuneError && n == 1 {
			return dst, errInvalidUTF8
		}
		i += n
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"'), nil
}
