package jsoncodec

import (
	"errors"
	"fmt"
)

// ErrFallback says the codec does not reproduce protojson for this input,
// in either direction; the caller should take the protojson path instead,
// which either succeeds or reports protojson's own error. The encoder
// wraps it with the reason; the decoder returns it as is (for every input
// protojson rejects, too). An encoder error that does not wrap ErrFallback
// means the wire data is malformed.
var ErrFallback = errors.New("jsoncodec: input left to protojson")

// fallback returns an error wrapping ErrFallback with why.
func fallback(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrFallback}, args...)...)
}
