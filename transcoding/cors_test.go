package transcoding_test

import (
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/transcoding"
)

// TestCORSOrigins checks how allowed origins match: case-insensitively,
// with subdomain wildcards that cannot be fooled by look-alike hosts, and
// that entries which could never match are refused at construction.
func TestCORSOrigins(t *testing.T) {
	t.Parallel()
	d := &captureDispatcher{}
	h := newHandler(t, d, transcoding.WithCORS(transcoding.CORS{
		AllowedOrigins:   []string{"HTTPS://App.Example.com", "https://*.example.org"},
		AllowCredentials: true,
	}))
	for origin, allowed := range map[string]bool{
		"https://app.example.com":       true,
		"https://a.example.org":         true,
		"https://a.b.example.org":       true,
		"https://example.org":           false,
		"https://example.org.evil.com":  false,
		"https://evilexample.org":       false,
		"http://a.example.org":          false,
		"https://a.example.org:8443":    false,
		"https://app.example.com.evil":  false,
		"null":                          false,
		"https://app.example.com/":      false,
		"https://attacker.example.com":  false,
		"https://a.example.org@evil.io": false,
	} {
		w := serve(h, "OPTIONS", "/v1/shelves", "", "Origin", origin, "Access-Control-Request-Method", "POST")
		got := w.Header().Get("Access-Control-Allow-Origin")
		if allowed && got != origin || !allowed && got != "" {
			t.Errorf("preflight from %q: Access-Control-Allow-Origin %q, allowed %v", origin, got, allowed)
		}
		w = serve(h, "GET", "/v1/shelves", "", "Origin", origin)
		if got := w.Header().Get("Access-Control-Allow-Origin"); allowed && got != origin || !allowed && got != "" {
			t.Errorf("GET from %q: Access-Control-Allow-Origin %q, allowed %v", origin, got, allowed)
		}
	}

	for entry, want := range map[string]string{
		"https://app.example.com/": "no path",
		"null":                     `"null"`,
		"https://app.*.example":    "wildcard",
		"app.example.com":          "SCHEME://HOST",
	} {
		_, err := transcoding.NewREST(demoRoutesFunc(t), d, transcoding.WithCORS(transcoding.CORS{AllowedOrigins: []string{entry}}))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("allowed origin %q: %v, want an error saying %q", entry, err, want)
		}
	}
}
