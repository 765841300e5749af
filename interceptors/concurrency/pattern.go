package concurrency

import (
	"fmt"
	"sort"
	"strings"

	"github.com/sluice-dev/sluice/config"
)

// patternTable finds the rule for a method: the most specific matching
// pattern wins, as in upstream routing (the longest literal part; at equal
// length a pattern without "*" beats one with it). It is immutable.
type patternTable[T any] struct {
	entries []patternEntry[T] // most specific first
}

type patternEntry[T any] struct {
	prefix   string // the pattern without its "*"
	wildcard bool
	value    T
}

func (t *patternTable[T]) add(pattern string, v T) error {
	if err := config.ValidPattern(pattern); err != nil {
		return err
	}
	for _, e := range t.entries {
		if e.prefix == strings.TrimSuffix(pattern, "*") && e.wildcard == strings.HasSuffix(pattern, "*") {
			return fmt.Errorf("method pattern %q is given twice", pattern)
		}
	}
	t.entries = append(t.entries, patternEntry[T]{
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

// lookup returns the value of the most specific pattern matching the
// method at path ("/pkg.Service/Method").
func (t *patternTable[T]) lookup(path string) (T, bool) {
	name := strings.TrimPrefix(path, "/")
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		name = name[:i] + "." + name[i+1:]
	}
	for _, e := range t.entries {
		if e.matches(name) {
			return e.value, true
		}
	}
	var zero T
	return zero, false
}

func (e patternEntry[T]) matches(name string) bool {
	if e.wildcard {
		return strings.HasPrefix(name, e.prefix)
	}
	return name == e.prefix || (strings.HasPrefix(name, e.prefix) && name[len(e.prefix)] == '.')
}
