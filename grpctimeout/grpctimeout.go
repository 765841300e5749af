// Package grpctimeout parses the grpc-timeout header as gRPC's HTTP/2
// protocol defines it, exactly as grpc-go's own transport does, so that a
// value gets one answer whatever protocol carries it: native gRPC calls
// have theirs parsed by grpc-go (which refuses a malformed value with
// INTERNAL, "malformed grpc-timeout", before the call exists), and the
// REST adapter parses Grpc-Timeout with this package and answers the same
// (INTERNAL, with HTTP 400). The deadline policy reads X-Request-Timeout
// with it too.
package grpctimeout

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// maxTimeoutDigits is the longest TimeoutValue gRPC allows.
const maxTimeoutDigits = 8

// Parse parses a timeout as gRPC's HTTP/2 protocol writes it in
// grpc-timeout: 1 to 8 ASCII digits, then one unit, H (hours), M
// (minutes), S (seconds), m (milliseconds), u (microseconds) or n
// (nanoseconds), like "250m" or "30S". Anything else (a sign, spaces, a
// ninth digit, another unit, an empty value) is an error. A value past
// the largest time.Duration ("99999999H", about 11,000 years) is clamped
// to it, as grpc-go clamps it: it means "no deadline to speak of", and the
// deadline policy's maximum still applies.
func Parse(s string) (time.Duration, error) {
	if s == "" {
		return 0, errors.New("empty timeout")
	}
	if len(s) < 2 {
		return 0, fmt.Errorf("timeout %q: want 1 to 8 digits and a unit (H, M, S, m, u, n)", s)
	}
	digits, unitByte := s[:len(s)-1], s[len(s)-1]
	if len(digits) > maxTimeoutDigits {
		return 0, fmt.Errorf("timeout %q: more than %d digits", s, maxTimeoutDigits)
	}
	var unit time.Duration
	switch unitByte {
	case 'H':
		unit = time.Hour
	case 'M':
		unit = time.Minute
	case 'S':
		unit = time.Second
	case 'm':
		unit = time.Millisecond
	case 'u':
		unit = time.Microsecond
	case 'n':
		unit = time.Nanosecond
	default:
		return 0, fmt.Errorf("timeout %q: unknown unit %q (want H, M, S, m, u or n)", s, unitByte)
	}
	var n int64
	for i := 0; i < len(digits); i++ {
		c := digits[i]
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("timeout %q: want only digits before the unit", s)
		}
		n = n*10 + int64(c-'0') // at most 8 digits: no overflow
	}
	if n > math.MaxInt64/int64(unit) {
		return time.Duration(math.MaxInt64), nil
	}
	return time.Duration(n) * unit, nil
}
