package httprule

import "strings"

// This file holds the percent-encoding rules of the path template spec. They
// are written by hand rather than with net/url because the spec needs three
// distinct decodings (literal comparison, single-segment variables and
// multi-segment variables) and net/url offers none of them exactly: it treats
// "+" specially in some paths and always decodes reserved characters.

// isUnreserved reports whether c is an RFC 3986 unreserved character. A
// percent-encoded unreserved character is equivalent to the character itself.
func isUnreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

// isSubDelim reports whether c is an RFC 3986 sub-delimiter.
func isSubDelim(c byte) bool {
	switch c {
	case '!', '$', '&', '\'', '(', ')', '*', '+', ',', ';', '=':
		return true
	}
	return false
}

// isReserved reports whether c is an RFC 6570 (and RFC 3986) reserved
// character: a gen-delim or a sub-delim. Multi-segment variables keep these
// percent-encoded by default.
func isReserved(c byte) bool {
	switch c {
	case ':', '/', '?', '#', '[', ']', '@':
		return true
	}
	return isSubDelim(c)
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case '0' <= c && c <= '9':
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}

const upperHex = "0123456789ABCDEF"

// validEscapes reports whether every '%' in s starts a "%XX" triplet.
func validEscapes(s string) bool {
	for i := strings.IndexByte(s, '%'); i >= 0; {
		if i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
			return false
		}
		j := strings.IndexByte(s[i+3:], '%')
		if j < 0 {
			return true
		}
		i += 3 + j
	}
	return true
}

// appendCanonical appends the canonical form of s, which must have valid
// escapes, to dst: escaped unreserved characters are decoded and the hex
// digits of every remaining escape are upper-cased. Two literals are the same
// URI text exactly when their canonical forms are equal (RFC 3986 6.2.2).
func appendCanonical(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '%' || i+2 >= len(s) {
			dst = append(dst, c)
			continue
		}
		b := unhex(s[i+1])<<4 | unhex(s[i+2])
		if isUnreserved(b) {
			dst = append(dst, b)
		} else {
			dst = append(dst, '%', upperHex[b>>4], upperHex[b&15])
		}
		i += 2
	}
	return dst
}

// canonical returns the canonical form of s (see appendCanonical), without
// allocating when s has no escapes.
func canonical(s string) string {
	if strings.IndexByte(s, '%') < 0 {
		return s
	}
	return string(appendCanonical(make([]byte, 0, len(s)), s))
}

// decodeMode says which escapes decode leaves encoded.
type decodeMode uint8

const (
	decodeAll     decodeMode = iota // single-segment variables: none
	keepReserved                    // multi-segment variables: RFC 6570 reserved
	keepSlashOnly                   // multi-segment, fully_decode_reserved_expansion: "%2F"
)

func (m decodeMode) keep(c byte) bool {
	switch m {
	case keepReserved:
		return isReserved(c)
	case keepSlashOnly:
		return c == '/'
	}
	return false
}

// decode decodes the escapes of s, which must have valid escapes, except
// those mode keeps: they are copied unchanged, in their original spelling, so
// the caller can tell "%2F" (data) from "/" (a separator). It returns s
// itself when there is nothing to decode.
func decode(s string, mode decodeMode) string {
	i := strings.IndexByte(s, '%')
	if i < 0 {
		return s
	}
	buf := make([]byte, 0, len(s))
	buf = append(buf, s[:i]...)
	for ; i < len(s); i++ {
		c := s[i]
		if c != '%' || i+2 >= len(s) {
			buf = append(buf, c)
			continue
		}
		b := unhex(s[i+1])<<4 | unhex(s[i+2])
		if mode.keep(b) {
			buf = append(buf, s[i:i+3]...)
		} else {
			buf = append(buf, b)
		}
		i += 2
	}
	return string(buf)
}
