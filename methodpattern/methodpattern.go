// Package methodpattern matches gRPC methods against the patterns that
// upstream routes and every policy are keyed on, so that all of them agree
// on what a pattern means and which one is most specific.
//
// A pattern is "*" (every method), or a protobuf full name of a package,
// service or method ("library.v1", "library.v1.Library",
// "library.v1.Library.GetBook"), which matches that name and every name
// below it, or a prefix ending in "*" ("library.*", "library.v1.Lib*").
// Patterns name methods, never HTTP paths: a policy on a method holds for
// every protocol and every HTTP binding of it.
package methodpattern

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"unicode"
)

// Valid reports whether p is a well-formed pattern. Names are identifiers
// ([A-Za-z_][A-Za-z0-9_]*); a pattern holds no spaces, no slashes and at
// most one "*", at the end.
func Valid(p string) error {
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

// FullName turns a method path, "/pkg.Service/Method", into the full name
// "pkg.Service.Method" that patterns are written in.
func FullName(path string) string {
	s := strings.TrimPrefix(path, "/")
	if i := strings.LastIndexByte(s, '/'); i >= 0 {
		return s[:i] + "." + s[i+1:]
	}
	return s
}

// pathName is a method path seen as its full name without building the
// name (the chain looks methods up in several tables on every call): the
// name is s with the byte at dot, the path's last '/', read as '.'.
type pathName struct {
	s   string
	dot int // -1: no '/' in s
}

// nameOf returns the name of path as FullName spells it.
func nameOf(path string) pathName {
	s := strings.TrimPrefix(path, "/")
	return pathName{s: s, dot: strings.LastIndexByte(s, '/')}
}

// hasPrefix reports whether the name starts with p.
func (n pathName) hasPrefix(p string) bool {
	if len(p) > len(n.s) {
		return false
	}
	if n.dot < 0 || n.dot >= len(p) {
		return n.s[:len(p)] == p
	}
	return n.s[:n.dot] == p[:n.dot] && p[n.dot] == '.' && n.s[n.dot+1:len(p)] == p[n.dot+1:]
}

// byteAt returns the name's i-th byte.
func (n pathName) byteAt(i int) byte {
	if i == n.dot {
		return '.'
	}
	return n.s[i]
}

// matches reports whether the name matches a pattern given by its prefix
// (the pattern without "*") and whether it ended in "*".
func (n pathName) matches(prefix string, wildcard bool) bool {
	if !n.hasPrefix(prefix) {
		return false
	}
	return wildcard || len(prefix) == len(n.s) || n.byteAt(len(prefix)) == '.'
}

// Pattern is one compiled, valid pattern.
type Pattern struct {
	prefix   string // the pattern without its "*"
	wildcard bool
}

// Compile checks p and returns it ready for matching.
func Compile(p string) (Pattern, error) {
	if err := Valid(p); err != nil {
		return Pattern{}, err
	}
	return Pattern{prefix: strings.TrimSuffix(p, "*"), wildcard: strings.HasSuffix(p, "*")}, nil
}

// Matches reports whether the method at path ("/pkg.Service/Method")
// matches the pattern.
func (p Pattern) Matches(path string) bool {
	return nameOf(path).matches(p.prefix, p.wildcard)
}

type entry[T any] struct {
	pattern  string
	prefix   string // the pattern without its "*"
	wildcard bool
	value    T
}

// Table maps patterns to values and finds the value of the most specific
// pattern matching a method: the longest literal part wins, and at equal
// length a pattern without "*" beats one with it. Build it with Add before
// sharing it; Lookup is then safe for concurrent use.
type Table[T any] struct {
	entries []entry[T] // most specific first
}

// Add maps pattern to v. A malformed pattern, or one already in the table,
// is an error.
func (t *Table[T]) Add(pattern string, v T) error {
	if err := Valid(pattern); err != nil {
		return err
	}
	for _, e := range t.entries {
		if e.pattern == pattern {
			return fmt.Errorf("method pattern %q is given twice", pattern)
		}
	}
	t.entries = append(t.entries, entry[T]{
		pattern:  pattern,
		prefix:   strings.TrimSuffix(pattern, "*"),
		wildcard: strings.HasSuffix(pattern, "*"),
		value:    v,
	})
	sort.SliceStable(t.entries, func(i, j int) bool {
		a, b := t.entries[i], t.entries[j]
		if len(a.prefix) != len(b.prefix) {
			return len(a.prefix) > len(b.prefix)
		}
		return !a.wildcard && b.wildcard
	})
	return nil
}

// Lookup returns the value of the most specific pattern matching the
// method at path ("/pkg.Service/Method").
func (t *Table[T]) Lookup(path string) (T, bool) {
	v, _, ok := t.LookupPattern(path)
	return v, ok
}

// LookupPattern is Lookup that also returns the pattern that matched.
func (t *Table[T]) LookupPattern(path string) (T, string, bool) {
	if t != nil {
		name := nameOf(path)
		for _, e := range t.entries {
			if name.matches(e.prefix, e.wildcard) {
				return e.value, e.pattern, true
			}
		}
	}
	var zero T
	return zero, "", false
}

// Values returns the values of the table, most specific pattern first.
func (t *Table[T]) Values() []T {
	if t == nil {
		return nil
	}
	out := make([]T, len(t.entries))
	for i, e := range t.entries {
		out[i] = e.value
	}
	return out
}

// Len reports how many patterns the table holds.
func (t *Table[T]) Len() int {
	if t == nil {
		return 0
	}
	return len(t.entries)
}
