package config_test

import (
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/config"
)

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
