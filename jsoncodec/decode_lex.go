package jsoncodec

import (
	"bytes"
	"encoding/binary"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// The lexical rules below are those of protojson's JSON reader: whitespace is
// space, tab, CR and LF only; strings must be valid UTF-8 without raw control
// characters, with the JSON escapes and \u surrogate pairs that decode to a
// valid rune; literals and numbers must end at a delimiter. Numbers follow
// RFC 8259 strictly (protojson also tolerates an exponent without digits,
// such as `1e`; the fast path leaves those to it).

// open consumes the opening bracket o of an object or array and reports
// whether the value is empty (its closing bracket c, consumed too, comes
// next); ok is false when the value does not start with o.
func (s *decodeState) open(o, c byte) (empty, ok bool) {
	if s.peek() != o {
		return false, false
	}
	s.pos++
	s.skipWS()
	if s.peek() == c {
		s.pos++
		return true, true
	}
	return false, true
}

// skipWS advances past JSON whitespace.
func (s *decodeState) skipWS() {
	for s.pos < len(s.data) {
		switch s.data[s.pos] {
		case ' ', '\n', '\r', '\t':
			s.pos++
		default:
			return
		}
	}
}

// peek returns the byte at the read position, or 0 at the end.
func (s *decodeState) peek() byte {
	if s.pos < len(s.data) {
		return s.data[s.pos]
	}
	return 0
}

// isNotDelim reports whether c may continue a literal or a number, which
// then would not be a token of its own.
func isNotDelim(c byte) bool {
	return c == '-' || c == '+' || c == '.' || c == '_' ||
		('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || ('0' <= c && c <= '9')
}

// literal consumes lit (null, true or false) at the read position when it is
// there and ends at a delimiter.
func (s *decodeState) literal(lit string) bool {
	end := s.pos + len(lit)
	if end > len(s.data) || string(s.data[s.pos:end]) != lit {
		return false
	}
	if end < len(s.data) && isNotDelim(s.data[end]) {
		return false
	}
	s.pos = end
	return true
}

// isNull reports whether the value at the read position is the null literal,
// without consuming it.
func (s *decodeState) isNull() bool {
	end := s.pos + 4
	return end <= len(s.data) && string(s.data[s.pos:end]) == "null" &&
		(end == len(s.data) || !isNotDelim(s.data[end]))
}

// plainASCII reports whether b holds only printable ASCII other than the
// backslash: string content that needs neither validation nor unescaping.
func plainASCII(b []byte) bool {
	const lo = 0x0101010101010101
	const hi = 0x8080808080808080
	i := 0
	for ; i+8 <= len(b); i += 8 {
		w := binary.LittleEndian.Uint64(b[i:])
		bs := w ^ (lo * '\\')
		// A byte below 0x20 borrows, one from 0x80 up has its top bit,
		// a backslash is a zero byte of bs.
		if ((w-lo*0x20)|w|((bs-lo)&^bs))&hi != 0 {
			return false
		}
	}
	for ; i < len(b); i++ {
		if c := b[i]; c < 0x20 || c >= utf8.RuneSelf || c == '\\' {
			return false
		}
	}
	return true
}

// scanString validates the JSON string at the read position (which holds
// its opening quote) and advances past it. data[start:end] is its raw
// content; esc reports whether that content holds escapes.
func (s *decodeState) scanString() (start, end int, esc, ok bool) {
	start = s.pos + 1
	// The common case: the next quote ends the string and everything up
	// to it is plain ASCII.
	q := bytes.IndexByte(s.data[start:], '"')
	if q < 0 {
		return 0, 0, false, false
	}
	if end = start + q; plainASCII(s.data[start:end]) {
		s.pos = end + 1
		return start, end, false, true
	}
	return s.scanStringSlow(start)
}

// scanStringSlow is scanString for content with escapes or non-ASCII
// runes, byte by byte.
func (s *decodeState) scanStringSlow(start int) (_, end int, esc, ok bool) {
	d := s.data
	i := start
	for i < len(d) {
		c := d[i]
		switch {
		case c == '"':
			s.pos = i + 1
			return start, i, esc, true
		case c == '\\':
			esc = true
			n, ok := escapeLen(d[i:])
			if !ok {
				return 0, 0, false, false
			}
			i += n
		case c < 0x20:
			return 0, 0, false, false
		case c < utf8.RuneSelf:
			i++
		default:
			r, n := utf8.DecodeRune(d[i:])
			if r == utf8.RuneError && n == 1 {
				return 0, 0, false, false
			}
			i += n
		}
	}
	return 0, 0, false, false
}

// escapeLen validates the escape sequence at the start of b (which begins
// with a backslash) and returns its length.
func escapeLen(b []byte) (int, bool) {
	if len(b) < 2 {
		return 0, false
	}
	switch b[1] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		return 2, true
	case 'u':
		r, ok := hex4(b, 2)
		if !ok {
			return 0, false
		}
		if !utf16.IsSurrogate(r) {
			return 6, true
		}
		if len(b) < 12 || b[6] != '\\' || b[7] != 'u' {
			return 0, false
		}
		r2, ok := hex4(b, 8)
		if !ok || utf16.DecodeRune(r, r2) == unicode.ReplacementChar {
			return 0, false
		}
		return 12, true
	}
	return 0, false
}

// hex4 decodes the four hex digits at b[i:].
func hex4(b []byte, i int) (rune, bool) {
	if i+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, c := range b[i : i+4] {
		switch {
		case '0' <= c && c <= '9':
			r = r<<4 | rune(c-'0')
		case 'a' <= c && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case 'A' <= c && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}

// unescape appends the decoded form of the raw string content b, which
// scanString validated, to out.
func unescape(out, b []byte) []byte {
	for len(b) > 0 {
		i := 0
		for i < len(b) && b[i] != '\\' {
			i++
		}
		out = append(out, b[:i]...)
		b = b[i:]
		if len(b) == 0 {
			return out
		}
		switch c := b[1]; c {
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, _ := hex4(b, 2)
			if utf16.IsSurrogate(r) {
				r2, _ := hex4(b, 8)
				out = utf8.AppendRune(out, utf16.DecodeRune(r, r2))
				b = b[12:]
				continue
			}
			out = utf8.AppendRune(out, r)
			b = b[6:]
			continue
		default: // '"', '\\', '/'
			out = append(out, c)
		}
		b = b[2:]
	}
	return out
}

// stringValue reads the JSON string at the read position and returns its
// decoded content: a sub-slice of the input when it holds no escapes, else
// decoded into s.tmp (valid until the next use of s.tmp).
func (s *decodeState) stringValue() ([]byte, bool) {
	if s.peek() != '"' {
		return nil, false
	}
	start, end, esc, ok := s.scanString()
	if !ok {
		return nil, false
	}
	if !esc {
		return s.data[start:end], true
	}
	s.tmp = unescape(s.tmp[:0], s.data[start:end])
	return s.tmp, true
}

// numberLen returns the length of the strict JSON number at the start of b,
// or 0 when there is none. It does not check what follows the number.
func numberLen(b []byte) int {
	i := 0
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i >= len(b):
		return 0
	case b[i] == '0':
		i++
	case '1' <= b[i] && b[i] <= '9':
		i++
		for i < len(b) && '0' <= b[i] && b[i] <= '9' {
			i++
		}
	default:
		return 0
	}
	if i < len(b) && b[i] == '.' {
		i++
		j := i
		for i < len(b) && '0' <= b[i] && b[i] <= '9' {
			i++
		}
		if i == j {
			return 0
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := i
		for i < len(b) && '0' <= b[i] && b[i] <= '9' {
			i++
		}
		if i == j {
			return 0
		}
	}
	return i
}

// number reads the JSON number token at the read position and returns its
// text.
func (s *decodeState) number() ([]byte, bool) {
	rest := s.data[s.pos:]
	n := numberLen(rest)
	if n == 0 || (n < len(rest) && isNotDelim(rest[n])) {
		return nil, false
	}
	s.pos += n
	return rest[:n], true
}

// isNumber reports whether all of b is one strict JSON number: the form
// protojson accepts for numbers quoted in strings.
func isNumber(b []byte) bool {
	return len(b) > 0 && numberLen(b) == len(b)
}

// skipValue validates and skips one JSON value (an unknown field's value
// when unknown fields are discarded). Nesting counts towards the depth
// limit, as protojson's skipping does.
func (s *decodeState) skipValue() bool {
	switch c := s.peek(); c {
	case '"':
		_, _, _, ok := s.scanString()
		return ok
	case 'n':
		return s.literal("null")
	case 't':
		return s.literal("true")
	case 'f':
		return s.literal("false")
	case '{':
		if !s.enter() {
			return false
		}
		empty, _ := s.open('{', '}')
		ok := empty || s.skipMembers()
		s.depth--
		return ok
	case '[':
		if !s.enter() {
			return false
		}
		empty, _ := s.open('[', ']')
		for more := !empty; more; {
			var ok bool
			if !s.skipValue() {
				return false
			}
			if more, ok = s.next(']'); !ok {
				return false
			}
		}
		s.depth--
		return true
	default:
		_, ok := s.number()
		return ok
	}
}

// skipMembers validates and skips the members of an object whose opening
// brace open consumed, through its closing brace.
func (s *decodeState) skipMembers() bool {
	for {
		if s.peek() != '"' {
			return false
		}
		if _, _, _, ok := s.scanString(); !ok {
			return false
		}
		if !s.colon() || !s.skipValue() {
			return false
		}
		more, ok := s.next('}')
		if !ok || !more {
			return ok
		}
	}
}

// colon consumes the name separator and the whitespace around it.
func (s *decodeState) colon() bool {
	s.skipWS()
	if s.peek() != ':' {
		return false
	}
	s.pos++
	s.skipWS()
	return true
}

// next consumes what follows a member or element: a comma (more is true;
// the whitespace after it is skipped too) or the closing byte.
func (s *decodeState) next(closing byte) (more, ok bool) {
	s.skipWS()
	switch s.peek() {
	case ',':
		s.pos++
		s.skipWS()
		return true, true
	case closing:
		s.pos++
		return false, true
	}
	return false, false
}

// enter counts one level of nesting and reports whether it stays within the
// depth limit.
func (s *decodeState) enter() bool {
	s.depth++
	return s.depth <= maxDecodeDepth
}
