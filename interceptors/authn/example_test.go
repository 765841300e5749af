package authn_test

import (
	"context"
	"fmt"
	"time"

	"google.golang.org/grpc/metadata"

	"github.com/sluice-dev/sluice/config"
	"github.com/sluice-dev/sluice/interceptors/authn"
	"github.com/sluice-dev/sluice/interceptors/authz"
)

// The demo set-up: the demo key set served from memory, one method open to
// anyone and the rest requiring a token.
func ExampleNew() {
	cfg := config.Default().Policy
	cfg.Authn.JWT.JWKSURL = "https://idp.example/jwks" // WithKeySource below serves the keys instead
	cfg.Authn.JWT.Issuer = authn.DemoIssuer
	cfg.Authn.JWT.Audiences = []string{authn.DemoAudience}
	cfg.Authz.Rules = []config.AuthzRule{
		{Methods: []string{"library.v1.Library.ListBooks"}, Access: config.AccessAnonymous},
		{Methods: []string{"library.v1"}, Access: config.AccessAuthenticated},
	}
	pol, err := authz.New(cfg.Authz)
	if err != nil {
		panic(err)
	}
	a, err := authn.New(cfg.Authn,
		authn.WithMethodPolicy(pol),
		authn.WithKeySource(authn.KeySourceFunc(func(context.Context) ([]byte, error) { return authn.DemoJWKS() })))
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
