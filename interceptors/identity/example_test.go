package identity_test

import (
	"context"
	"fmt"

	"google.golang.org/grpc/metadata"

	"github.com/sluice-dev/sluice/interceptors/identity"
)

func ExampleNewPropagator() {
	p, err := identity.NewPropagator(
		identity.WithSubjectKey("x-sluice-subject"),
		identity.WithProviderKey("x-sluice-provider"),
		identity.WithScopesKey("x-sluice-scopes"),
		identity.WithStrip("authorization", "x-api-key"),
	)
	if err != nil {
		panic(err)
	}
	// In the chain: p.StreamServerInterceptor(), after authz. Rewrite is
	// what it does to each call's metadata:
	in := metadata.Pairs("x-sluice-subject", "admin", "authorization", "Bearer t", "x-request-id", "r1")
	ctx := metadata.NewIncomingContext(context.Background(), in)
	md := p.Rewrite(ctx, &identity.Identity{Subject: "alice", Provider: "jwt", Scopes: []string{"a", "b"}})
	fmt.Println(md.Get("x-sluice-subject"), md.Get("x-sluice-scopes"), md.Get("authorization"), md.Get("x-request-id"))
	// Output: [alice] [a b] [] [r1]
}

func ExampleValidMetadataKey() {
	fmt.Println(identity.ValidMetadataKey("x-tenant"))
	fmt.Println(identity.ValidMetadataKey("grpc-timeout"))
	// Output:
	// <nil>
	// metadata key "grpc-timeout": grpc- keys are reserved by gRPC
}
