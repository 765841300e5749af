package concurrency

import "github.com/sluice-dev/sluice/interceptors/callkey"

// KeysInUse reports how many keys the per-key tables of l hold, so tests
// can check that they shrink back when calls end.
func KeysInUse(l *Limiter) int {
	n := 0
	if l.perKey != nil {
		n += l.perKey.Len()
	}
	seen := map[*callkey.Map[slots]]bool{}
	for _, v := range l.rules.Values() {
		if k := v.perKey; k != nil && !seen[k] {
			seen[k] = true
			n += k.Len()
		}
	}
	return n
}
