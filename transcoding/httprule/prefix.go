package httprule

import (
	"fmt"
	"strings"
)

// CheckPrefix reports whether p can be put in front of templates as a
// path prefix (transcoding.WithPathPrefix):
// empty, or "/" followed by literal segments of unreserved characters
// (letters, digits, "-", ".", "_", "~") separated by "/", with no trailing
// "/".
func CheckPrefix(p string) error {
	if p == "" {
		return nil
	}
	if p[0] != '/' || strings.HasSuffix(p, "/") {
		return fmt.Errorf("path prefix %q: want /segment[/segment...], without a trailing /", p)
	}
	for _, seg := range strings.Split(p[1:], "/") {
		if seg == "" || seg == "." || seg == ".." {
			return fmt.Errorf("path prefix %q: empty or dot segment", p)
		}
		for _, r := range seg {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-._~", r)) {
				return fmt.Errorf("path prefix %q: %q is not allowed (letters, digits, -, ., _ and ~ only)", p, r)
			}
		}
	}
	return nil
}
