package authz_test

import (
	"context"
	"fmt"

	"github.com/sluice-dev/sluice/interceptors/authz"
	"github.com/sluice-dev/sluice/interceptors/identity"
)

func ExampleNew() {
	p, err := authz.New(
		authz.WithDefault(authz.Deny),
		authz.WithRules(
			authz.Rule{Methods: []string{"library.v1.Library.Get*", "library.v1.Library.List*"}, Access: authz.Anonymous},
			authz.Rule{Methods: []string{"library.v1.Library"}, Access: authz.Authenticated, Scopes: []string{"library.write"}},
		),
	)
	if err != nil {
		panic(err)
	}
	// In the chain: p.StreamServerInterceptor(), right after authn.
	reader := identity.NewContext(context.Background(), &identity.Identity{Subject: "bob", Provider: "jwt"})
	fmt.Println(p.Decide(context.Background(), "/library.v1.Library/GetBook"))
	fmt.Println(p.Decide(reader, "/library.v1.Library/DeleteBook"))
	fmt.Println(p.Lint([]string{"/library.v1.Library/GetBook", "/library.v1.Library/DeleteBook", "/library.v1.Admin/Purge"}))
	// Output:
	// <nil>
	// rpc error: code = PermissionDenied desc = method /library.v1.Library/DeleteBook requires scope "library.write"
	// [rules[0].methods[1]: pattern "library.v1.Library.List*" matches no known method; it is unreachable default: 1 method(s) match no rule and are denied: library.v1.Admin.Purge]
}

func ExampleParseClaimCheck() {
	c, err := authz.ParseClaimCheck(`org.name == "Acme Inc"`)
	fmt.Println(c.Claim, c.Op, c.Value, err)
	// Output: org.name == Acme Inc <nil>
}
