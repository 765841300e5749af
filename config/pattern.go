package config

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
)

// ValidPattern reports whether p is a well-formed method pattern: "*", or a
// dot-separated protobuf full name ("library.v1", "library.v1.Library",
// "library.v1.Library.GetBook"), optionally ending in "*" ("library.*",
// "library.v1.Lib*"). Names are identifiers ([A-Za-z_][A-Za-z0-9_]*); a
// pattern holds no spaces, no slashes and at most one "*", at the end.
// server/ uses it too, so that config and routing agree on the grammar.
func ValidPattern(p string) error {
	if p == "" {
		return errors.New("method pattern must not be empty")
	}
	if p == "*" {
		return nil
	}
	if strings.IndexFunc(p, unicode.IsSpace) >= 0 {
		return fmt.Errorf("method pattern %q must not contain spaces", p)
	}
	if strings.Contains(p, "/") {
		return fmt.Errorf("method pattern %q must not contain \"/\": write methods as package.Service.Method", p)
	}
	body, wildcard := strings.CutSuffix(p, "*")
	if strings.Contains(body, "*") {
		return fmt.Errorf("method pattern %q: \"*\" is allowed only once, at the end", p)
	}
	parts := strings.Split(body, ".")
	for i, part := range parts {
		if part == "" {
			if wildcard && i == len(parts)-1 && i > 0 {
				continue // "library.*"
			}
			return fmt.Errorf("method pattern %q has an empty name component", p)
		}
		if !isIdent(part) {
			return fmt.Errorf("method pattern %q: %q is not a protobuf identifier", p, part)
		}
	}
	return nil
}

func isIdent(s string) bool {
	for i, c := range s {
		switch {
		case c == '_', c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
		case c >= '0' && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return s != ""
}

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
