package methodpattern_test

import (
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
