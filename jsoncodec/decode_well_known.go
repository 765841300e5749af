package jsoncodec

import (
	"bytes"
	"math"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// The well-known types with a JSON mapping of their own. Each function
// decodes the JSON value and appends the message's fields.

// appendSecondsNanos appends the seconds (field 1) and nanos (field 2) of a
// Timestamp or Duration, leaving out zeros.
func appendSecondsNanos(dst []byte, secs int64, nanos int32) []byte {
	if secs != 0 {
		dst = append(dst, 1<<3|byte(protowire.VarintType))
		dst = protowire.AppendVarint(dst, uint64(secs))
	}
	if nanos != 0 {
		dst = append(dst, 2<<3|byte(protowire.VarintType))
		dst = protowire.AppendVarint(dst, uint64(int64(nanos)))
	}
	return dst
}

// timestamp decodes an RFC 3339 string with time.Parse, as protojson does,
// with its range and at-most-nine-fractional-digits checks.
func (s *decodeState) timestamp(dst []byte) ([]byte, bool) {
	text, ok := s.stringValue()
	if !ok {
		return nil, false
	}
	t, err := time.Parse(time.RFC3339Nano, str(text))
	if err != nil {
		return nil, false
	}
	secs := t.Unix()
	if secs < minTimestampSeconds || secs > maxTimestampSeconds {
		return nil, false
	}
	dot := bytes.LastIndexByte(text, '.')
	zone := bytes.LastIndexAny(text, "Z-+")
	if dot >= 0 && zone >= dot && zone-dot > len(".999999999") {
		return nil, false
	}
	return appendSecondsNanos(dst, secs, int32(t.Nanosecond())), true
}

// duration decodes a number of seconds with an "s" suffix: an optional
// sign, an integer part without leading zeros and up to nine fractional
// digits, at least one of the two parts present (".5s", "1.s").
func (s *decodeState) duration(dst []byte) ([]byte, bool) {
	text, ok := s.stringValue()
	if !ok || len(text) < 2 || text[len(text)-1] != 's' {
		return nil, false
	}
	b := text[:len(text)-1]
	neg := false
	switch b[0] {
	case '-':
		neg = true
		b = b[1:]
	case '+':
		b = b[1:]
	}
	if len(b) == 0 {
		return nil, false
	}
	var secs int64
	switch c := b[0]; {
	case c == '0':
		b = b[1:]
	case '1' <= c && c <= '9':
		i := 0
		for i < len(b) && '0' <= b[i] && b[i] <= '9' {
			i++
		}
		// More than 12 digits is out of range whatever they are.
		if i > 12 {
			return nil, false
		}
		for _, c := range b[:i] {
			secs = secs*10 + int64(c-'0')
		}
		b = b[i:]
	case c == '.':
	default:
		return nil, false
	}
	var nanos int64
	if len(b) > 0 {
		if b[0] != '.' {
			return nil, false
		}
		b = b[1:]
		if len(b) > 9 {
			return nil, false
		}
		for i := range 9 {
			nanos *= 10
			if i < len(b) {
				c := b[i]
				if c < '0' || c > '9' {
					return nil, false
				}
				nanos += int64(c - '0')
			}
		}
	}
	if secs > maxDurationSeconds {
		return nil, false
	}
	if neg {
		secs, nanos = -secs, -nanos
	}
	return appendSecondsNanos(dst, secs, int32(nanos)), true
}

// fieldMask decodes comma-separated lowerCamelCase paths into snake_case
// paths (field 1), rejecting paths that hold '_' or are no valid names.
func (s *decodeState) fieldMask(dst []byte) ([]byte, bool) {
	text, ok := s.stringValue()
	if !ok {
		return nil, false
	}
	rest := strings.TrimSpace(str(text))
	if rest == "" {
		return dst, true
	}
	for {
		path, tail, more := strings.Cut(rest, ",")
		if strings.IndexByte(path, '_') >= 0 {
			return nil, false
		}
		var start int
		dst = append(dst, 1<<3|byte(protowire.BytesType))
		dst, start = openLen(dst)
		for i := 0; i < len(path); i++ {
			c := path[i]
			if 'A' <= c && c <= 'Z' {
				dst = append(dst, '_', c+'a'-'A')
			} else {
				dst = append(dst, c)
			}
		}
		if !protoreflect.FullName(str(dst[start:])).IsValid() {
			return nil, false
		}
		dst = closeLen(dst, start)
		if !more {
			return dst, true
		}
		rest = tail
	}
}

// empty decodes google.protobuf.Empty: an object whose members are all
// unknown fields.
func (s *decodeState) empty() bool {
	empty, ok := s.open('{', '}')
	if !ok {
		return false
	}
	return empty || (s.discard && s.skipMembers())
}

// nestedValue decodes a Value inside a Struct or a ListValue, a message
// level of its own for the depth limit.
func (s *decodeState) nestedValue(dst []byte) ([]byte, bool) {
	if !s.enter() {
		return nil, false
	}
	dst, ok := s.value(dst)
	s.depth--
	return dst, ok
}

// structBody decodes google.protobuf.Struct: a JSON object whose members
// are the entries of its map<string, Value> fields (field 1).
func (s *decodeState) structBody(dst []byte) ([]byte, bool) {
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
		dst = append(dst, 1<<3|byte(protowire.BytesType))
		var start int
		dst, start = openLen(dst)
		dst = append(dst, 1<<3|byte(protowire.BytesType))
		dst = protowire.AppendVarint(dst, uint64(len(key)))
		dst = append(dst, key...)
		if !s.addKey(&ks, dst[start:]) {
			return nil, false
		}
		dst = append(dst, 2<<3|byte(protowire.BytesType))
		var at int
		dst, at = openLen(dst)
		if dst, ok = s.nestedValue(dst); !ok {
			return nil, false
		}
		dst = closeLen(closeLen(dst, at), start)
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

// listValueBody decodes google.protobuf.ListValue: a JSON array of Values
// (field 1).
func (s *decodeState) listValueBody(dst []byte) ([]byte, bool) {
	empty, ok := s.open('[', ']')
	if !ok {
		return nil, false
	}
	if empty {
		return dst, true
	}
	for {
		dst = append(dst, 1<<3|byte(protowire.BytesType))
		var at int
		var ok bool
		dst, at = openLen(dst)
		if dst, ok = s.nestedValue(dst); !ok {
			return nil, false
		}
		dst = closeLen(dst, at)
		more, ok := s.next(']')
		if !ok {
			return nil, false
		}
		if !more {
			return dst, true
		}
	}
}

// value decodes google.protobuf.Value, whose oneof member follows the JSON
// type: null_value (1), number_value (2), string_value (3), bool_value (4),
// struct_value (5) or list_value (6). Members of a oneof are written even
// when zero.
func (s *decodeState) value(dst []byte) ([]byte, bool) {
	switch c := s.peek(); c {
	case 'n':
		if !s.literal("null") {
			return nil, false
		}
		return append(dst, 1<<3|byte(protowire.VarintType), 0), true
	case 't', 'f':
		switch {
		case s.literal("true"):
			return append(dst, 4<<3|byte(protowire.VarintType), 1), true
		case s.literal("false"):
			return append(dst, 4<<3|byte(protowire.VarintType), 0), true
		}
		return nil, false
	case '"':
		start, end, esc, ok := s.scanString()
		if !ok {
			return nil, false
		}
		dst = append(dst, 3<<3|byte(protowire.BytesType))
		dst, at := openLen(dst)
		if esc {
			dst = unescape(dst, s.data[start:end])
		} else {
			dst = append(dst, s.data[start:end]...)
		}
		return closeLen(dst, at), true
	case '{':
		dst = append(dst, 5<<3|byte(protowire.BytesType))
		dst, at := openLen(dst)
		dst, ok := s.structBody(dst)
		if !ok {
			return nil, false
		}
		return closeLen(dst, at), true
	case '[':
		dst = append(dst, 6<<3|byte(protowire.BytesType))
		dst, at := openLen(dst)
		dst, ok := s.listValueBody(dst)
		if !ok {
			return nil, false
		}
		return closeLen(dst, at), true
	}
	text, ok := s.number()
	if !ok {
		return nil, false
	}
	v, err := strconv.ParseFloat(str(text), 64)
	if err != nil {
		return nil, false
	}
	dst = append(dst, 2<<3|byte(protowire.Fixed64Type))
	return protowire.AppendFixed64(dst, math.Float64bits(v)), true
}
