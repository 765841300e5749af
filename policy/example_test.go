package policy_test

import (
	"context"
	"fmt"

	"github.com/sluice-dev/sluice/config"
	"github.com/sluice-dev/sluice/policy"
)

// The chain of the default configuration: an open gateway, every call
// passing recovery, the call record (request id, counts), the access log,
// deadlines, flow control, the end-of-policies mark and identity
// propagation.
func ExampleBuild() {
	cfg := config.Default()
	chain, err := policy.Build(&cfg)
	if err != nil {
		panic(err)
	}
	defer chain.Close()
	// server.NewDispatcher(proxy, chain.Interceptors()...) runs it.
	fmt.Println(len(chain.Interceptors()), chain.Open(), chain.RESTHeaders())
	// Output: 7 true [X-Request-Timeout]
}

func ExampleAuthorizer() {
	cfg := config.Default()
	cfg.Policy.Authz.Rules = []config.AuthzRule{
		{Methods: []string{"library.v1.Library.Get*"}, Access: config.AccessAnonymous},
	}
	az, err := policy.Authorizer(cfg.Policy.Authz)
	if err != nil {
		panic(err)
	}
	fmt.Println(az.Decide(context.Background(), "/library.v1.Library/GetBook"))
	fmt.Println(az.Decide(context.Background(), "/library.v1.Library/DeleteBook"))
	// Output:
	// <nil>
	// rpc error: code = PermissionDenied desc = method /library.v1.Library/DeleteBook is not open to any caller
}
