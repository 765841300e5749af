package protosource

import (
	"strings"
	"testing"
)

// Glob patterns come from configuration: checking and matching any of
// them never panics, and a pattern without wildcards matches only itself.
func FuzzGlob(f *testing.F) {
	for _, seed := range [][2]string{
		{"api/**/*.proto", "api/a/v1/a.proto"},
		{"**", "a/b"},
		{"a/[", "a/b"},
		{"a/**/**/b", "a/b"},
		{`a\`, "a"},
	} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, pattern, name string) {
		if len(pattern) > 200 || len(name) > 200 || strings.Count(pattern, "**") > 5 {
			return // matching is exponential in "**"s; configurations hold few
		}
		if ValidGlob(pattern) != nil {
			return
		}
		got := matchSegments(strings.Split(pattern, "/"), strings.Split(name, "/"))
		if !hasMeta(pattern) && got != (pattern == name) {
			t.Errorf("literal %q against %q: %v", pattern, name, got)
		}
	})
}
