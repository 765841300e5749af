package config_test

import (
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/config"
)

// Allowed CORS origins that could never match are refused with their
// location and the reason; upper case and subdomain wildcards are fine.
func TestCORSOrigins(t *testing.T) {
	t.Parallel()
	_, err := config.Parse([]byte(`cors:
  allowed_origins:
    - HTTPS://App.Example.com
    - https://*.example.org
    - https://app.example.com/
    - "null"
    - https://app.*.example.net
    - app.example.com
    - https://*.com
  allow_credentials: true
  max_age: -1s
`), "sluice.yaml")
	if err == nil {
		t.Fatal("bad origins accepted")
	}
	got := err.Error()
	for _, want := range []string{
		`sluice.yaml:5:7: cors.allowed_origins[2]: "https://app.example.com/": an origin has no path`,
		`sluice.yaml:6:7: cors.allowed_origins[3]: the "null" origin cannot be allowed`,
		`sluice.yaml:7:7: cors.allowed_origins[4]: "https://app.*.example.net": a wildcard must be the whole leftmost label`,
		`sluice.yaml:8:7: cors.allowed_origins[5]: "app.example.com": want SCHEME://HOST[:PORT]`,
		`sluice.yaml:9:7: cors.allowed_origins[6]: "https://*.com": a wildcard needs at least two labels`,
		`cors.max_age: must not be negative`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("the errors lack %q:\n%s", want, got)
		}
	}
	for _, fine := range []string{"allowed_origins[0]", "allowed_origins[1]", "allow_credentials"} {
		if strings.Contains(got, fine) {
			t.Errorf("a valid entry was refused (%s):\n%s", fine, got)
		}
	}
	if _, err := config.Parse([]byte("cors:\n  allowed_origins: [\"*\"]\n  allow_credentials: true\n"), "sluice.yaml"); err == nil ||
		!strings.Contains(err.Error(), `cors.allow_credentials: cannot be true with the "*" origin`) {
		t.Errorf("credentials with *: %v", err)
	}
}

// The policy's old place, under rest, is an error that names the new one.
func TestRESTCORSMoved(t *testing.T) {
	t.Parallel()
	_, err := config.Parse([]byte("rest:\n  cors:\n    allowed_origins: [\"*\"]\n"), "sluice.yaml")
	if err == nil || !strings.Contains(err.Error(), `sluice.yaml:2:3: rest.cors: moved to the top-level "cors" block`) {
		t.Errorf("rest.cors: %v", err)
	}
}
