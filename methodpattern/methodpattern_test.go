package methodpattern_test

import (
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/methodpattern"
)

func TestTableMostSpecificWins(t *testing.T) {
	t.Parallel()
	var tab methodpattern.Table[string]
	for _, p := range []string{"*", "lib.*", "lib.v1", "lib.v1.Library", "lib.v1.Library.GetBook", "lib.v1.Lib*"} {
		if err := tab.Add(p, p); err != nil {
			t.Fatal(err)
		}
	}
	if err := tab.Add("lib.v1", "again"); err == nil {
		t.Error("a pattern added twice was accepted")
	}
	cases := map[string]string{
		"/lib.v1.Library/GetBook":  "lib.v1.Library.GetBook",
		"/lib.v1.Library/ListBook": "lib.v1.Library",
		"/lib.v1.Librarian/X":      "lib.v1.Lib*",
		"/lib.v1.Other/X":          "lib.v1",
		"/lib.v10.Other/X":         "lib.*",
		"/other.S/M":               "*",
	}
	for path, want := range cases {
		got, pattern, ok := tab.LookupPattern(path)
		if !ok || got != want || pattern != want {
			t.Errorf("%s -> %q (%q, %v), want %q", path, got, pattern, ok, want)
		}
	}
	var empty methodpattern.Table[int]
	if _, ok := empty.Lookup("/a.B/C"); ok {
		t.Error("an empty table matched")
	}
}

func TestValid(t *testing.T) {
	t.Parallel()
	for _, p := range []string{"*", "a", "a.b.C", "a.*", "a.b.C.M", "a.b*", "_x.y1"} {
		if err := methodpattern.Valid(p); err != nil {
			t.Errorf("Valid(%q) = %v", p, err)
		}
	}
	for _, p := range []string{"", "a b", "a/b", "*a", "a.*.b", "a..b", ".a", "a.", "1a", "a.b**"} {
		if err := methodpattern.Valid(p); err == nil {
			t.Errorf("Valid(%q) accepted a malformed pattern", p)
		}
	}
}

func FuzzValidAndLookup(f *testing.F) {
	for _, s := range []string{"*", "a.b.*", "a.b.C.M", "x*"} {
		f.Add(s, "/a.b.C/M")
	}
	f.Fuzz(func(t *testing.T, pattern, path string) {
		var tab methodpattern.Table[int]
		if err := tab.Add(pattern, 1); err != nil {
			return
		}
		_, _ = tab.Lookup(path)
	})
}

// Matching a path reads it as its full name without building it; it must
// agree with matching the name FullName builds, on every pattern shape and
// at every boundary (the '/' that reads as '.', prefixes that stop inside
// a segment).
func TestPathMatchingAgreesWithFullName(t *testing.T) {
	t.Parallel()
	paths := []string{
		"/pkg.v1.Svc/Get", "/pkg.v1.Svc/GetMore", "/pkg.v1.SvcX/Get", "/pkg.v1/Svc", "/pkg/Get",
		"/a/b", "/a", "a.b/c", "/", "", "/pkg.v1.Svc/", "//x", "/pkg.v1.Svc/Get/Extra",
	}
	patterns := []string{
		"*", "pkg.*", "pkg.v1", "pkg.v1.*", "pkg.v1.Svc", "pkg.v1.Svc.*", "pkg.v1.Svc.Get", "pkg.v1.Svc.G*",
		"pkg.v1.S*", "pkg.v1.Svc.GetMore", "pkg", "a", "a.b", "a.*", "a.b.*", "pkg.v1.Sv",
		"pkg.v1.SvcXGet", "pkg.v1.SvcX*", "aXb", "pkg.v1XSvc.Get",
	}
	for _, raw := range patterns {
		p, err := methodpattern.Compile(raw)
		if err != nil {
			t.Fatalf("Compile(%q): %v", raw, err)
		}
		var tab methodpattern.Table[string]
		if err := tab.Add(raw, raw); err != nil {
			t.Fatal(err)
		}
		for _, path := range paths {
			want := matchesName(raw, methodpattern.FullName(path))
			if got := p.Matches(path); got != want {
				t.Errorf("pattern %q, path %q: Matches = %v, matching FullName = %v", raw, path, got, want)
			}
			if _, got := tab.Lookup(path); got != want {
				t.Errorf("pattern %q, path %q: Lookup found = %v, want %v", raw, path, got, want)
			}
		}
	}
}

// matchesName is the pattern grammar applied to a built full name: the
// reference the path matching is held to.
func matchesName(pattern, name string) bool {
	if prefix, ok := strings.CutSuffix(pattern, "*"); ok {
		return strings.HasPrefix(name, prefix)
	}
	return name == pattern || (strings.HasPrefix(name, pattern) && name[len(pattern)] == '.')
}
