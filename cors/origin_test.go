package cors_test

import (
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/cors"
)

func TestMatch(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		pattern string
		match   []string
		noMatch []string
	}{
		{
			pattern: "https://app.example.com",
			match:   []string{"https://app.example.com", "HTTPS://App.Example.COM", "https://app.example.com:443"},
			noMatch: []string{"http://app.example.com", "https://app.example.com:8443", "https://a.app.example.com", "https://app.example.com.evil.com", "https://app.example.com/", "null", ""},
		},
		{
			// Upper case and the default port are normalised away.
			pattern: "HTTPS://App.Example.com:443",
			match:   []string{"https://app.example.com"},
		},
		{
			pattern: "https://*.example.com",
			match:   []string{"https://a.example.com", "https://a.b.example.com", "https://x-1.example.com:443"},
			noMatch: []string{
				"https://example.com", "https://example.com.evil.com", "https://evilexample.com", "https://a.evilexample.com",
				"http://a.example.com", "https://a.example.com:8443", "https://.example.com", "https://a..example.com",
				"https://a.example.com.", "null",
			},
		},
		{
			pattern: "http://*.example.com:8080",
			match:   []string{"http://a.example.com:8080"},
			noMatch: []string{"http://a.example.com", "https://a.example.com:8080"},
		},
		{
			pattern: "http://[::1]:3000",
			match:   []string{"http://[::1]:3000"},
			noMatch: []string{"http://[::1]", "http://[::2]:3000"},
		},
		{
			pattern: "*",
			match:   []string{"https://anything.example", "null"},
		},
	} {
		p, err := cors.ParseOrigin(tc.pattern)
		if err != nil {
			t.Errorf("Parse(%q): %v", tc.pattern, err)
			continue
		}
		for _, o := range tc.match {
			if !p.Match(o) {
				t.Errorf("%q does not match %q", tc.pattern, o)
			}
		}
		for _, o := range tc.noMatch {
			if p.Match(o) {
				t.Errorf("%q matches %q", tc.pattern, o)
			}
		}
	}
}

func TestParseRefusesEntriesThatCannotMatch(t *testing.T) {
	t.Parallel()
	for entry, want := range map[string]string{
		"":                           "must not be empty",
		"null":                       `"null" origin cannot be allowed`,
		"https://app.example.com/":   `no path, query or fragment: browsers send "https://app.example.com"`,
		"https://app.example.com/ui": "no path",
		"https://app.example.com?a":  "no path",
		"app.example.com":            "want SCHEME://HOST[:PORT]",
		"*.example.com":              "want SCHEME://HOST[:PORT]",
		"https://":                   "no host",
		"https://u@app.example.com":  "no user information",
		"https://app.*.example.com":  "whole leftmost label",
		"https://*example.com":       "whole leftmost label",
		"https://*":                  "whole leftmost label",
		"https://*.com":              "at least two labels",
		"https://*.*.example.com":    "invalid host",
		"https://app.example.com:0":  "invalid port",
		"https://app.example.com:":   "invalid port",
		"https://app.example.com:x":  "invalid port",
		"https://app..example.com":   "empty label",
		"https://bücher.example":     "punycode",
		"http://[::1":                "invalid IPv6",
		"http://[zz]:80":             "invalid IPv6",
	} {
		_, err := cors.ParseOrigin(entry)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Parse(%q) = %v, want an error saying %q", entry, err, want)
		}
	}
}

func TestString(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"*":                           "*",
		"HTTPS://App.Example.com:443": "https://app.example.com",
		"https://*.Example.com:8443":  "https://*.example.com:8443",
		"http://[::1]:80":             "http://[::1]",
	} {
		p, err := cors.ParseOrigin(in)
		if err != nil {
			t.Fatalf("Parse(%q): %v", in, err)
		}
		if got := p.String(); got != want {
			t.Errorf("Parse(%q).String() = %q, want %q", in, got, want)
		}
	}
}

// FuzzParse checks that whatever parses has a canonical form that parses
// to itself, and that an exact origin matches its own canonical form.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"*", "null", "https://a.example.com", "https://*.example.com:8443", "http://[::1]:3000", "HTTP://X.Y/", "a://b:65535"} {
		f.Add(s, "https://a.example.com")
	}
	f.Fuzz(func(t *testing.T, entry, o string) {
		p, err := cors.ParseOrigin(entry)
		if err != nil {
			return
		}
		_ = p.Match(o)
		q, err := cors.ParseOrigin(p.String())
		if err != nil || q != p {
			t.Fatalf("Parse(%q) = %q, which parses to %v, %v", entry, p.String(), q, err)
		}
		if !strings.Contains(p.String(), "*") && !p.Match(p.String()) {
			t.Fatalf("%q does not match itself", p.String())
		}
	})
}
