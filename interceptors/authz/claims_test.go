package authz_test

import (
	"testing"

	"github.com/sluice-dev/sluice/interceptors/authz"
)

func TestParseClaimCheck(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		in   string
		want authz.ClaimCheck
		ok   bool
	}{
		{"role == admin", authz.ClaimCheck{Claim: "role", Op: "==", Value: "admin"}, true},
		{"groups contains ops team", authz.ClaimCheck{Claim: "groups", Op: "contains", Value: "ops team"}, true},
		{`name != "a b"`, authz.ClaimCheck{Claim: "name", Op: "!=", Value: "a b"}, true},
		{"realm_access.roles contains admin", authz.ClaimCheck{Claim: "realm_access.roles", Op: "contains", Value: "admin"}, true},
		{"role = admin", authz.ClaimCheck{}, false},
		{"role ==", authz.ClaimCheck{}, false},
		{`role == ""`, authz.ClaimCheck{}, false},
		{`role == "unterminated`, authz.ClaimCheck{Claim: "role", Op: "==", Value: `"unterminated`}, true},
		{"", authz.ClaimCheck{}, false},
	} {
		got, err := authz.ParseClaimCheck(c.in)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("ParseClaimCheck(%q) = %+v, %v; want %+v, ok=%v", c.in, got, err, c.want, c.ok)
		}
	}
}
