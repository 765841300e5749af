package config

import (
	"fmt"
	"strings"

	"github.com/sluice-dev/sluice/methodpattern"
)

// ValidPattern reports whether p is a well-formed method pattern (see
// package methodpattern, which routing and every policy share).
func ValidPattern(p string) error { return methodpattern.Valid(p) }

// ParseUpstreamFlag parses the value of a --upstream flag,
// "PATTERN[,PATTERN...]=TARGET", into an upstream with the defaults of
// DefaultUpstream, for example "library.v1.*=dns:///library:50051". Flags
// that name the same target should be merged by the caller or given
// distinct names, as upstream names must be unique.
func ParseUpstreamFlag(s string) (Upstream, error) {
	patterns, target, ok := strings.Cut(s, "=")
	if !ok {
		return Upstream{}, fmt.Errorf("upstream %q: want PATTERN=TARGET, like \"library.v1.*=127.0.0.1:50051\"", s)
	}
	u := DefaultUpstream()
	u.Target = strings.TrimSpace(target)
	var errs []error
	for p := range strings.SplitSeq(patterns, ",") {
		p = strings.TrimSpace(p)
		if err := ValidPattern(p); err != nil {
			errs = append(errs, err)
			continue
		}
		u.Methods = append(u.Methods, p)
	}
	if err := validTarget(u.Target); err != nil {
		errs = append(errs, fmt.Errorf("target %w", err))
	}
	if len(errs) > 0 {
		msgs := make([]string, len(errs))
		for i, err := range errs {
			msgs[i] = err.Error()
		}
		return Upstream{}, fmt.Errorf("upstream %q: %s", s, strings.Join(msgs, "; "))
	}
	return u, nil
}
