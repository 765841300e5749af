package authn_test

import (
	"context"
	"fmt"
	"time"

	"google.golang.org/grpc/metadata"

	"github.com/sluice-dev/sluice/interceptors/authn"
	"github.com/sluice-dev/sluice/interceptors/authz"
)

// The demo set-up: the demo key set served from memory, one method open to
// anyone and the rest requiring a token.
func ExampleNew() {
	pol, err := authz.New(authz.WithRules(
		authz.Rule{Methods: []string{"library.v1.Library.ListBooks"}, Access: authz.Anonymous},
		authz.Rule{Methods: []string{"library.v1"}, Access: authz.Authenticated},
	))
	if err != nil {
		panic(err)
	}
	a, err := authn.New(
		authn.WithJWT(authn.JWT{
			RefreshInterval: 5 * time.Minute,
			MinRefetch:      30 * time.Second,
			FetchTimeout:    10 * time.Second,
			Issuer:          authn.DemoIssuer,
			Audiences:       []string{authn.DemoAudience},
			Leeway:          30 * time.Second,
			SubjectClaim:    "sub",
			ScopeClaim:      "scope",
			MaxTokenSize:    8 << 10,
		}),
		authn.WithKeySource(authn.KeySourceFunc(func(context.Context) ([]byte, error) { return authn.DemoJWKS() })),
		authn.WithMethodPolicy(pol))
	if err != nil {
		panic(err)
	}
	defer a.Close()
	// In the chain: a.StreamServerInterceptor(), then pol.StreamServerInterceptor().

	tok, err := authn.MintDemoToken("alice", []string{"library.write"}, time.Hour, nil)
	if err != nil {
		panic(err)
	}
	ctx := metadata.NewIncomingContext(context.Background(), metadata.Pairs("authorization", "Bearer "+tok))
	id, err := a.Authenticate(ctx, "/library.v1.Library/DeleteBook")
	fmt.Println(id.Subject, id.Provider, id.Scopes, err)

	_, err = a.Authenticate(context.Background(), "/library.v1.Library/DeleteBook")
	fmt.Println(err)
	// Output:
	// alice jwt [library.write] <nil>
	// rpc error: code = Unauthenticated desc = credentials required: send a bearer token (authorization: Bearer ...)
}

func ExampleHashAPIKey() {
	fmt.Println(authn.HashAPIKey("s3cret"))
	// Output: sha256:1ec1c26b50d5d3c58d9583181af8076655fe00756bf7285940ba3670f99fcba0
}

func ExampleParseKeyHash() {
	h, err := authn.ParseKeyHash(authn.HashAPIKey("s3cret"))
	fmt.Println(len(h), err)
	_, err = authn.ParseKeyHash("s3cret")
	fmt.Println(err)
	// Output:
	// 32 <nil>
	// must be "sha256:" followed by 64 hex digits (the key itself is never stored)
}

func ExampleJWTAlgorithms() {
	fmt.Println(authn.JWTAlgorithms())
	// Output: [RS256 RS384 RS512 PS256 PS384 PS512 ES256 ES384 ES512 EdDSA]
}
