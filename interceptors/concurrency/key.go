package concurrency

import (
	"context"

	"github.com/sluice-dev/sluice/interceptors/callkey"
)

// KeyFunc names the party a call counts against for per-key limits. It
// returns false when the call has no key (for example a header that is
// absent); such a call is held only to the limits that are not per key.
// It is callkey.Func, as ratelimit.KeyFunc is, so the key functions of the
// configuration's key spellings (identity, api_key, client_ip,
// metadata:NAME) are written once, in ratelimit, and serve here as they
// are.
type KeyFunc = callkey.Func

// MethodKey keys calls by their full method name, so that a per-key limit
// applies to each method matched by a pattern on its own.
func MethodKey() KeyFunc {
	return func(_ context.Context, fullMethod string) (string, bool) {
		return fullMethod, true
	}
}
