package server_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"

	"github.com/sluice-dev/sluice/interceptors/authz"
	"github.com/sluice-dev/sluice/internal/gatewaytest"
	"github.com/sluice-dev/sluice/server"
)

// TestOwnHealthNeedsNoRule: with authorization rules that name neither the
// gateway's health service nor anything else an anonymous caller may call,
// the gateway's own grpc.health.v1.Health answers Check and Watch alike,
// without passing the proxy's policy chain (issue 17 item 12). Services
// registered with WithService (server reflection here) stay under the
// policies, as do proxied calls.
func TestOwnHealthNeedsNoRule(t *testing.T) {
	gatewaytest.CheckLeaks(t)
	pol, err := authz.New(authz.WithDefault(authz.Deny),
		authz.WithRules(authz.Rule{Methods: []string{"test.Echo.Public"}, Access: authz.Anonymous}))
	if err != nil {
		t.Fatal(err)
	}
	var chained atomic.Int64 // calls that went through the policy chain
	count := func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, h grpc.StreamHandler) error {
		chained.Add(1)
		return h(srv, ss)
	}
	up := gatewaytest.StartEcho(t)
	gw := gatewaytest.NewGateway(t, gatewaytest.Route(up.Addr, "test.*"), count, pol.StreamServerInterceptor())
	gw.Start(t, server.WithService(func(r grpc.ServiceRegistrar) {
		reflection.RegisterV1(r.(reflection.GRPCServer))
	}))
	cc := gatewaytest.Dial(t, gw.Addr)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	hc := healthpb.NewHealthClient(cc)
	if res, err := hc.Check(ctx, &healthpb.HealthCheckRequest{}); err != nil || res.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("Health/Check: %v, %v; want SERVING", res, err)
	}
	wctx, wcancel := context.WithCancel(ctx)
	w, err := hc.Watch(wctx, &healthpb.HealthCheckRequest{})
	if err != nil {
		t.Fatal(err)
	}
	res, err := w.Recv()
	if err != nil || res.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("Health/Watch: %v, %v; want SERVING", res, err)
	}
	wcancel()
	if _, err := w.Recv(); status.Code(err) != codes.Canceled {
		t.Errorf("Health/Watch after cancel: %v, want CANCELED", err)
	}
	if n := chained.Load(); n != 0 {
		t.Errorf("%d health calls went through the proxy's policy chain, want 0", n)
	}

	// Reflection, registered by the operator, reveals contracts: it stays
	// under the policies, which here name no rule for it.
	rc, err := reflectionpb.NewServerReflectionClient(cc).ServerReflectionInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_ = rc.Send(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{}})
	if _, err := rc.Recv(); status.Code(err) != codes.PermissionDenied && status.Code(err) != codes.Unauthenticated {
		t.Errorf("reflection without a rule: %v, want it denied", err)
	}
	if _, _, err := gatewaytest.Call(ctx, cc, "/test.Echo/Private", "x"); status.Code(err) != codes.PermissionDenied && status.Code(err) != codes.Unauthenticated {
		t.Errorf("proxied call without a rule: %v, want it denied", err)
	}
	if _, _, err := gatewaytest.Call(ctx, cc, "/test.Echo/Public", "x"); err != nil {
		t.Errorf("proxied call under an anonymous rule: %v", err)
	}
	if n := chained.Load(); n != 3 {
		t.Errorf("%d calls went through the policy chain, want 3 (reflection and two proxied)", n)
	}
}
