package authz_test

import (
	"context"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/sluice-dev/sluice/interceptors/authz"
	"github.com/sluice-dev/sluice/interceptors/identity"
)

// table is a rule table, written as the configuration writes it.
type table struct {
	Default authz.Access
	Rules   []authz.Rule
}

func (c table) opts() []authz.Option {
	return []authz.Option{authz.WithDefault(c.Default), authz.WithRules(c.Rules...)}
}

func policy(t *testing.T, cfg table) *authz.Policy {
	t.Helper()
	p, err := authz.New(cfg.opts()...)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDecide(t *testing.T) {
	t.Parallel()
	p := policy(t, table{
		Default: authz.Deny,
		Rules: []authz.Rule{
			{Methods: []string{"lib.v1"}, Access: authz.Authenticated},
			{Methods: []string{"lib.v1.Books.*"}, Access: authz.Anonymous},
			{Methods: []string{"lib.v1.Books.DeleteBook"}, Access: authz.Authenticated, Scopes: []string{"lib.write"}},
			{Methods: []string{"lib.v1.Books.Purge"}, Access: authz.Deny},
			{Methods: []string{"lib.v1.Admin"}, Access: authz.Authenticated, Claims: []string{"role == admin", "groups contains ops", "level != 0"}},
			{Methods: []string{"lib.v1.Keys"}, Access: authz.Authenticated, Providers: []string{"api_key"}},
		},
	})
	alice := &identity.Identity{Subject: "alice", Provider: "jwt", Scopes: []string{"lib.write"},
		Claims: map[string]any{"role": "admin", "groups": []any{"dev", "ops"}, "level": 3.0}}
	bob := &identity.Identity{Subject: "bob", Provider: "jwt",
		Claims: map[string]any{"role": "user", "groups": "ops dev", "level": 0.0}}
	key := &identity.Identity{Subject: "ci", Provider: "api_key"}
	for _, c := range []struct {
		method string
		id     *identity.Identity
		want   codes.Code
	}{
		{"/lib.v1.Books/GetBook", nil, codes.OK},                 // wildcard beats the shorter package rule
		{"/lib.v1.Books/DeleteBook", nil, codes.Unauthenticated}, // exact beats wildcard
		{"/lib.v1.Books/DeleteBook", bob, codes.PermissionDenied},
		{"/lib.v1.Books/DeleteBook", alice, codes.OK},
		{"/lib.v1.Books/Purge", alice, codes.PermissionDenied},
		{"/lib.v1.Shelves/List", nil, codes.Unauthenticated},
		{"/lib.v1.Shelves/List", bob, codes.OK},
		{"/lib.v10.Shelves/List", alice, codes.PermissionDenied}, // "lib.v1" is not a prefix of "lib.v10"
		{"/other.S/M", alice, codes.PermissionDenied},            // default deny
		{"/lib.v1.Admin/Do", alice, codes.OK},
		{"/lib.v1.Admin/Do", bob, codes.PermissionDenied},
		{"/lib.v1.Keys/List", alice, codes.Unauthenticated}, // jwt identity, api_key-only method
		{"/lib.v1.Keys/List", key, codes.OK},
		{"/Lib.v1.Books/GetBook", nil, codes.PermissionDenied}, // names are case-sensitive
	} {
		name := c.method
		if c.id != nil {
			name += "/" + c.id.Subject
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			if c.id != nil {
				ctx = identity.NewContext(ctx, c.id)
			}
			if got := status.Code(p.Decide(ctx, c.method)); got != c.want {
				t.Fatalf("Decide = %v, want %v", got, c.want)
			}
		})
	}
}

func TestAccepts(t *testing.T) {
	t.Parallel()
	p := policy(t, table{
		Default: authz.Authenticated,
		Rules: []authz.Rule{
			{Methods: []string{"a.S.Open"}, Access: authz.Anonymous},
			{Methods: []string{"a.S.Keys"}, Access: authz.Authenticated, Providers: []string{"api_key", "jwt"}},
			{Methods: []string{"a.S.Closed"}, Access: authz.Deny},
		},
	})
	for _, c := range []struct {
		method    string
		providers []string
		anonymous bool
	}{
		{"/a.S/Open", nil, true},
		{"/a.S/Keys", []string{"api_key", "jwt"}, false},
		{"/a.S/Closed", nil, true},
		{"/a.S/Other", nil, false}, // default authenticated
	} {
		ps, anon := p.Accepts(c.method)
		if strings.Join(ps, ",") != strings.Join(c.providers, ",") || anon != c.anonymous {
			t.Errorf("Accepts(%s) = %v, %v; want %v, %v", c.method, ps, anon, c.providers, c.anonymous)
		}
	}
}

func TestLint(t *testing.T) {
	t.Parallel()
	p := policy(t, table{
		Default: authz.Deny,
		Rules: []authz.Rule{
			{Methods: []string{"lib.v1.Books", "lib.v1.Bokks"}, Access: authz.Anonymous},
			{Methods: []string{"lib.v1.Books.*"}, Access: authz.Authenticated},
			{Methods: []string{"lib.v1.Books.GetBook"}, Access: authz.Anonymous},
		},
	})
	got := p.Lint([]string{"/lib.v1.Books/GetBook", "/lib.v1.Books/ListBooks", "/lib.v1.Shelves/GetShelf"})
	want := []string{
		`rules[0].methods[0]: pattern "lib.v1.Books" is shadowed`,
		`rules[0].methods[1]: pattern "lib.v1.Bokks" matches no known method`,
		"default: 1 method(s) match no rule and are denied: lib.v1.Shelves.GetShelf",
	}
	if len(got) != len(want) {
		t.Fatalf("Lint = %q, want %d warnings", got, len(want))
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("warning %d = %q, want prefix %q", i, got[i], want[i])
		}
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	t.Parallel()
	if _, err := authz.New(); err != nil {
		t.Errorf("New() = %v, want a deny-all policy", err)
	}
	for _, cfg := range []table{
		{Default: "maybe"},
		{Default: authz.Deny, Rules: []authz.Rule{{Methods: []string{"a/b"}, Access: authz.Deny}}},
		{Default: authz.Deny, Rules: []authz.Rule{{Methods: []string{"a"}, Access: authz.Anonymous, Scopes: []string{"x"}}}},
		{Default: authz.Deny, Rules: []authz.Rule{{Methods: []string{"a"}, Access: authz.Authenticated, Claims: []string{"role = admin"}}}},
		{Default: authz.Deny, Rules: []authz.Rule{{Methods: []string{"a"}}}},
		{Default: authz.Deny, Rules: []authz.Rule{{Methods: []string{"a"}, Access: authz.Deny}, {Methods: []string{"a"}, Access: authz.Deny}}},
		{Default: authz.Deny, Rules: []authz.Rule{{Access: authz.Anonymous}}},
		{Default: authz.Deny, Rules: []authz.Rule{{Methods: []string{"a"}, Access: "maybe"}}},
		{Default: authz.Deny, Rules: []authz.Rule{{Methods: []string{"a"}, Access: authz.Deny, Claims: []string{"role == admin"}}}},
	} {
		if _, err := authz.New(cfg.opts()...); err == nil {
			t.Errorf("New(%+v) succeeded", cfg)
		}
	}
}
