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
	_, err := config.Parse([]byte(`rest:
  cors:
    allowed_origins:
      - HTTPS://App.Example.com
      - https://*.example.org
      - https://app.example.com/
      - "null"
      - https://app.*.example.net
      - app.example.com
      - https://*.com
`), "sluice.yaml")
	if err == nil {
		t.Fatal("bad origins accepted")
	}
	got := err.Error()
	for _, want := range []string{
		`sluice.yaml:6:9: rest.cors.allowed_origins[2]: "https://app.example.com/": an origin has no path`,
		`sluice.yaml:7:9: rest.cors.allowed_origins[3]: the "null" origin cannot be allowed`,
		`sluice.yaml:8:9: rest.cors.allowed_origins[4]: "https://app.*.example.net": a wildcard must be the whole leftmost label`,
		`sluice.yaml:9:9: rest.cors.allowed_origins[5]: "app.example.com": want SCHEME://HOST[:PORT]`,
		`sluice.yaml:10:9: rest.cors.allowed_origins[6]: "https://*.com": a wildcard needs at least two labels`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("the errors lack %q:\n%s", want, got)
		}
	}
	for _, fine := range []string{"allowed_origins[0]", "allowed_origins[1]"} {
		if strings.Contains(got, fine) {
			t.Errorf("a valid origin was refused (%s):\n%s", fine, got)
		}
	}
}

func TestOpenAPIServers(t *testing.T) {
	t.Parallel()
	_, err := config.Parse([]byte(`rest:
  openapi_servers:
    - https://api.example.com/library
    - api.example.com
    - https://api.example.com/?x=1
`), "sluice.yaml")
	if err == nil {
		t.Fatal("bad server URLs accepted")
	}
	got := err.Error()
	for _, want := range []string{
		`sluice.yaml:4:7: rest.openapi_servers[1]: "api.example.com": want an absolute http or https URL`,
		`sluice.yaml:5:7: rest.openapi_servers[2]: "https://api.example.com/?x=1": a base URL has no query`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("the errors lack %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "openapi_servers[0]") {
		t.Errorf("a valid URL was refused:\n%s", got)
	}
}
