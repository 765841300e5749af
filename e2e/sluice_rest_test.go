package e2e_test

import (
	"net/http"
	"testing"

	"github.com/sluice-dev/sluice/registry"
	"github.com/sluice-dev/sluice/server"
	"github.com/sluice-dev/sluice/transcoding"
)

// newSluiceREST returns sluice's REST transcoder over the registry's
// routes, dispatching through d (the gateway's one chain and proxy), with
// default options: the configuration compared with grpc-gateway's defaults.
func newSluiceREST(tb testing.TB, reg *registry.Registry, d *server.Dispatcher, opts ...transcoding.Option) http.Handler {
	tb.Helper()
	routes, err := transcoding.BuildRoutes(reg.Snapshot())
	if err != nil {
		tb.Fatal(err)
	}
	rest, err := transcoding.NewREST(func() *transcoding.Routes { return routes }, d, opts...)
	if err != nil {
		tb.Fatal(err)
	}
	return rest
}
