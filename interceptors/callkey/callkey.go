// Package callkey is the vocabulary the per-key policies share: how a call
// is keyed (Func, declared once for the rate limiter, the concurrency
// limiter and flow control) and a reference-counted map of per-key state
// that lives exactly while calls of the key are in flight (Map).
package callkey

import "context"

// Func names the party a call counts against: calls with equal keys share
// a per-key budget (tokens, slots, a message rate). It returns false when
// the call has no key (for example a header that is absent); such a call is
// held only to the limits that are not per key. It must be safe for
// concurrent use.
type Func func(ctx context.Context, fullMethod string) (key string, ok bool)
