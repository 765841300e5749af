package jsoncodec

import (
	"bytes"
	"encoding/base64"
	"math"
	"strconv"
	"unsafe"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// result is the outcome of decoding one scalar value.
type result uint8

const (
	resultFail result = iota // left to protojson
	resultOK                 // a non-zero value was appended
	resultZero               // the zero value was appended
	resultSkip               // an unknown enum name, discarded: nothing to keep
)

// str views b as a string without copying, for the lookups and parsers
// that neither keep nor modify it.
func str(b []byte) string {
	return unsafe.String(unsafe.SliceData(b), len(b))
}

// scalar decodes one JSON value of the scalar (or enum) field f and appends
// its encoding, preceded by f's tag when withTag.
func (s *decodeState) scalar(dst []byte, f *decodeField, withTag bool) ([]byte, result) {
	if withTag {
		dst = append(dst, f.tag...)
	}
	switch f.kind {
	case protoreflect.BoolKind:
		switch {
		case s.literal("true"):
			return append(dst, 1), resultOK
		case s.literal("false"):
			return append(dst, 0), resultZero
		}
		return nil, resultFail

	case protoreflect.Int32Kind, protoreflect.Int64Kind, protoreflect.Sint32Kind, protoreflect.Sint64Kind,
		protoreflect.Sfixed32Kind, protoreflect.Sfixed64Kind:
		bits := 64
		if f.kind == protoreflect.Int32Kind || f.kind == protoreflect.Sint32Kind || f.kind == protoreflect.Sfixed32Kind {
			bits = 32
		}
		text, ok := s.numberText()
		if !ok {
			return nil, resultFail
		}
		v, ok := parseInt(text, bits, false)
		if !ok {
			return nil, resultFail
		}
		n := int64(v)
		switch f.kind {
		case protoreflect.Sint32Kind, protoreflect.Sint64Kind:
			dst = protowire.AppendVarint(dst, protowire.EncodeZigZag(n))
		case protoreflect.Sfixed32Kind:
			dst = protowire.AppendFixed32(dst, uint32(n))
		case protoreflect.Sfixed64Kind:
			dst = protowire.AppendFixed64(dst, uint64(n))
		default:
			dst = protowire.AppendVarint(dst, uint64(n))
		}
		return dst, zeroIf(n == 0)

	case protoreflect.Uint32Kind, protoreflect.Uint64Kind, protoreflect.Fixed32Kind, protoreflect.Fixed64Kind:
		bits := 64
		if f.kind == protoreflect.Uint32Kind || f.kind == protoreflect.Fixed32Kind {
			bits = 32
		}
		text, ok := s.numberText()
		if !ok {
			return nil, resultFail
		}
		v, ok := parseInt(text, bits, true)
		if !ok {
			return nil, resultFail
		}
		switch f.kind {
		case protoreflect.Fixed32Kind:
			dst = protowire.AppendFixed32(dst, uint32(v))
		case protoreflect.Fixed64Kind:
			dst = protowire.AppendFixed64(dst, v)
		default:
			dst = protowire.AppendVarint(dst, v)
		}
		return dst, zeroIf(v == 0)

	case protoreflect.FloatKind, protoreflect.DoubleKind:
		bits := 64
		if f.kind == protoreflect.FloatKind {
			bits = 32
		}
		v, ok := s.float(bits)
		if !ok {
			return nil, resultFail
		}
		if bits == 32 {
			x := math.Float32bits(float32(v))
			return protowire.AppendFixed32(dst, x), zeroIf(x == 0)
		}
		x := math.Float64bits(v)
		return protowire.AppendFixed64(dst, x), zeroIf(x == 0)

	case protoreflect.StringKind:
		if s.peek() != '"' {
			return nil, resultFail
		}
		start, end, esc, ok := s.scanString()
		if !ok {
			return nil, resultFail
		}
		raw := s.data[start:end]
		if !esc {
			dst = protowire.AppendVarint(dst, uint64(len(raw)))
			return append(dst, raw...), zeroIf(len(raw) == 0)
		}
		// Unescaping only shrinks: reserve the raw length's varint size.
		reserved := protowire.SizeVarint(uint64(len(raw)))
		for range reserved {
			dst = append(dst, 0)
		}
		at := len(dst)
		dst = unescape(dst, raw)
		n := len(dst) - at
		return fixLen(dst, at, reserved), zeroIf(n == 0)

	case protoreflect.BytesKind:
		if s.peek() != '"' {
			return nil, resultFail
		}
		// Large values are the reason for a bytes field: skip the string
		// validation when there is nothing to unescape. Base64 decoding
		// succeeds only on alphabet and padding bytes (and line breaks,
		// excluded here), which are valid string content.
		start := s.pos + 1
		if n := bytes.IndexByte(s.data[start:], '"'); n >= 0 {
			raw := s.data[start : start+n]
			if bytes.IndexByte(raw, '\\') < 0 && bytes.IndexByte(raw, '\n') < 0 && bytes.IndexByte(raw, '\r') < 0 {
				s.pos = start + n + 1
				return appendBase64(dst, raw)
			}
		}
		text, ok := s.stringValue()
		if !ok {
			return nil, resultFail
		}
		return appendBase64(dst, text)

	case protoreflect.EnumKind:
		var n int64
		switch c := s.peek(); {
		case c == '"':
			name, ok := s.stringValue()
			if !ok {
				return nil, resultFail
			}
			v, found := f.enumNames[string(name)]
			if !found {
				if s.discard {
					return dst, resultSkip
				}
				return nil, resultFail
			}
			n = int64(v)
		case c == 'n':
			if !f.nullEnum || !s.literal("null") {
				return nil, resultFail
			}
		default:
			text, ok := s.number()
			if !ok {
				return nil, resultFail
			}
			v, ok := parseInt(text, 32, false)
			if !ok {
				return nil, resultFail
			}
			n = int64(v)
			// A closed enum keeps an undeclared number in the unknown
			// fields on the wire but not in protojson's message.
			if f.closed != nil && !f.closed[int32(n)] {
				return nil, resultFail
			}
		}
		return protowire.AppendVarint(dst, uint64(n)), zeroIf(n == 0)
	}
	return nil, resultFail
}

func zeroIf(zero bool) result {
	if zero {
		return resultZero
	}
	return resultOK
}

// numberText returns the text of an integer value: a JSON number, or a
// string holding exactly one JSON number (protojson accepts both forms for
// every integer kind).
func (s *decodeState) numberText() ([]byte, bool) {
	if s.peek() != '"' {
		return s.number()
	}
	text, ok := s.stringValue()
	if !ok || !isNumber(text) {
		return nil, false
	}
	return text, true
}

// float decodes a floating-point value: a JSON number, a string holding
// exactly one JSON number, or "NaN", "Infinity" or "-Infinity". Values out
// of the range of the bit size are rejected, as protojson does.
func (s *decodeState) float(bits int) (float64, bool) {
	var text []byte
	if s.peek() == '"' {
		var ok bool
		text, ok = s.stringValue()
		if !ok {
			return 0, false
		}
		switch string(text) {
		case "NaN":
			return math.NaN(), true
		case "Infinity":
			return math.Inf(1), true
		case "-Infinity":
			return math.Inf(-1), true
		}
		if !isNumber(text) {
			return 0, false
		}
	} else {
		var ok bool
		if text, ok = s.number(); !ok {
			return 0, false
		}
	}
	v, err := strconv.ParseFloat(str(text), bits)
	return v, err == nil
}

// parseInt converts the JSON number text to an integer of the bit size,
// accepting what protojson accepts: any number whose value is integral and
// in range, so 1e2, 1.5e1 and 100e-2 are integers, and -0 is 0 for unsigned
// kinds too. The result holds an int64 for signed kinds.
func parseInt(text []byte, bits int, unsigned bool) (uint64, bool) {
	neg := text[0] == '-'
	i := 0
	if neg {
		i++
	}
	intStart := i
	if text[i] == '0' {
		i++
		intStart = i // a leading 0 is the whole integer part
	} else {
		for i < len(text) && '0' <= text[i] && text[i] <= '9' {
			i++
		}
	}
	intp := text[intStart:i]
	var frac, exp []byte
	if i < len(text) && text[i] == '.' {
		i++
		j := i
		for i < len(text) && '0' <= text[i] && text[i] <= '9' {
			i++
		}
		frac = bytes.TrimRight(text[j:i], "0")
	}
	if i < len(text) {
		exp = text[i+1:] // after e or E
	}
	if len(intp) == 0 && len(frac) == 0 {
		return 0, true // a zero, whatever its sign and exponent
	}
	if len(frac) == 0 && len(exp) == 0 && len(intp) <= 19 {
		var v uint64
		for _, c := range intp {
			v = v*10 + uint64(c-'0')
		}
		return intInRange(v, neg, bits, unsigned)
	}

	// The general case: shift the decimal point by the exponent.
	var e int64
	if len(exp) > 0 {
		var err error
		if e, err = strconv.ParseInt(str(exp), 10, 32); err != nil {
			return 0, false
		}
	}
	var buf [24]byte
	digits := buf[:0]
	if e >= 0 {
		if int64(len(frac)) > e || int64(len(intp))+e > 20 {
			return 0, false
		}
		digits = append(digits, intp...)
		digits = append(digits, frac...)
		for range e - int64(len(frac)) {
			digits = append(digits, '0')
		}
	} else {
		at := int64(len(intp)) + e
		if len(frac) > 0 || at <= 0 {
			return 0, false
		}
		for _, c := range intp[at:] {
			if c != '0' {
				return 0, false
			}
		}
		digits = append(digits, intp[:at]...)
	}
	if len(digits) > 20 {
		return 0, false
	}
	var v uint64
	for _, c := range digits {
		d := uint64(c - '0')
		if v > (math.MaxUint64-d)/10 {
			return 0, false
		}
		v = v*10 + d
	}
	return intInRange(v, neg, bits, unsigned)
}

// intInRange checks the magnitude v with its sign against the range of the
// integer kind.
func intInRange(v uint64, neg bool, bits int, unsigned bool) (uint64, bool) {
	if unsigned {
		if neg && v != 0 {
			return 0, false
		}
		if bits == 32 && v > math.MaxUint32 {
			return 0, false
		}
		return v, true
	}
	limit := uint64(math.MaxInt64)
	if bits == 32 {
		limit = math.MaxInt32
	}
	if neg {
		if v > limit+1 {
			return 0, false
		}
		return -v, true
	}
	if v > limit {
		return 0, false
	}
	return v, true
}

// appendBase64 appends the length-prefixed bytes encoded by text, with
// protojson's rules: the URL alphabet when text holds '-' or '_', padding
// optional, and line breaks ignored (encoding/base64 skips them).
func appendBase64(dst, text []byte) ([]byte, result) {
	enc := base64.StdEncoding
	urlAlphabet := bytes.IndexByte(text, '-') >= 0 || bytes.IndexByte(text, '_') >= 0
	switch {
	case urlAlphabet && len(text)%4 != 0:
		enc = base64.RawURLEncoding
	case urlAlphabet:
		enc = base64.URLEncoding
	case len(text)%4 != 0:
		enc = base64.RawStdEncoding
	}
	maxLen := enc.DecodedLen(len(text))
	reserved := protowire.SizeVarint(uint64(maxLen))
	at := len(dst) + reserved
	if cap(dst)-at < maxLen {
		grown := make([]byte, len(dst), at+maxLen+(at+maxLen)/4)
		copy(grown, dst)
		dst = grown
	}
	dst = dst[:at+maxLen]
	n, err := enc.Decode(dst[at:], text)
	if err != nil {
		return nil, resultFail
	}
	return fixLen(dst[:at+n], at, reserved), zeroIf(n == 0)
}

// appendMapKey appends the entry field 1 for the JSON object name of a map
// entry, parsed with protojson's rules for the key kind.
func appendMapKey(dst []byte, f *decodeField, name []byte) ([]byte, bool) {
	dst = append(dst, f.tag...)
	switch f.kind {
	case protoreflect.StringKind:
		dst = protowire.AppendVarint(dst, uint64(len(name)))
		return append(dst, name...), true
	case protoreflect.BoolKind:
		switch string(name) {
		case "true":
			return append(dst, 1), true
		case "false":
			return append(dst, 0), true
		}
		return nil, false
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind,
		protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		bits := 64
		if f.kind == protoreflect.Int32Kind || f.kind == protoreflect.Sint32Kind || f.kind == protoreflect.Sfixed32Kind {
			bits = 32
		}
		n, err := strconv.ParseInt(str(name), 10, bits)
		if err != nil {
			return nil, false
		}
		switch f.kind {
		case protoreflect.Sint32Kind, protoreflect.Sint64Kind:
			return protowire.AppendVarint(dst, protowire.EncodeZigZag(n)), true
		case protoreflect.Sfixed32Kind:
			return protowire.AppendFixed32(dst, uint32(n)), true
		case protoreflect.Sfixed64Kind:
			return protowire.AppendFixed64(dst, uint64(n)), true
		}
		return protowire.AppendVarint(dst, uint64(n)), true
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind, protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		bits := 64
		if f.kind == protoreflect.Uint32Kind || f.kind == protoreflect.Fixed32Kind {
			bits = 32
		}
		n, err := strconv.ParseUint(str(name), 10, bits)
		if err != nil {
			return nil, false
		}
		switch f.kind {
		case protoreflect.Fixed32Kind:
			return protowire.AppendFixed32(dst, uint32(n)), true
		case protoreflect.Fixed64Kind:
			return protowire.AppendFixed64(dst, n), true
		}
		return protowire.AppendVarint(dst, n), true
	}
	return nil, false
}

// keySet marks where one open map's keys start in the state's key stack.
type keySet struct {
	spans int
	bytes int
	big   map[string]struct{}
}

// linearKeys is how many keys a map holds before duplicates are looked up
// in a hash set rather than by scanning.
const linearKeys = 16

func (s *decodeState) openKeys() keySet {
	return keySet{spans: len(s.keySpans), bytes: len(s.keys)}
}

func (s *decodeState) closeKeys(ks keySet) {
	s.keySpans, s.keys = s.keySpans[:ks.spans], s.keys[:ks.bytes]
}

// addKey records the encoded key k of an open map and reports false when
// the map already has it.
func (s *decodeState) addKey(ks *keySet, k []byte) bool {
	if ks.big != nil {
		if _, dup := ks.big[string(k)]; dup {
			return false
		}
		ks.big[string(k)] = struct{}{}
		return true
	}
	from := ks.bytes
	for _, end := range s.keySpans[ks.spans:] {
		if bytes.Equal(s.keys[from:end], k) {
			return false
		}
		from = end
	}
	if len(s.keySpans)-ks.spans < linearKeys {
		s.keys = append(s.keys, k...)
		s.keySpans = append(s.keySpans, len(s.keys))
		return true
	}
	ks.big = make(map[string]struct{}, 2*linearKeys)
	from = ks.bytes
	for _, end := range s.keySpans[ks.spans:] {
		ks.big[string(s.keys[from:end])] = struct{}{}
		from = end
	}
	ks.big[string(k)] = struct{}{}
	return true
}
