package e2e_test

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/sluice-dev/sluice/demo"
	libraryv1 "github.com/sluice-dev/sluice/gen/go/sluice/demo/library/v1"
	"github.com/sluice-dev/sluice/interceptors/concurrency"
	"github.com/sluice-dev/sluice/internal/gatewaytest"
	"github.com/sluice-dev/sluice/registry"
	"github.com/sluice-dev/sluice/server"
)

// TestConcurrencyRefusalRetryAfter: a call refused by limits.max_in_flight
// tells a REST client when to retry, as a rate-limit refusal does: 429
// with Retry-After (the RetryInfo delay rounded up to seconds) and the
// RetryInfo in the google.rpc.Status body; a gRPC client gets
// RESOURCE_EXHAUSTED with the RetryInfo and the same retry-after header.
func TestConcurrencyRefusalRetryAfter(t *testing.T) {
	gatewaytest.CheckLeaks(t)
	const delay = 2500 * time.Millisecond
	upstream := startDemo(t)
	lim, err := concurrency.New(concurrency.WithMaxInFlight(1), concurrency.WithRetryDelay(delay))
	if err != nil {
		t.Fatal(err)
	}
	// hold keeps calls tagged x-hold in the chain, holding the only slot,
	// until the test releases them.
	held, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	hold := func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, h grpc.StreamHandler) error {
		if md, _ := metadata.FromIncomingContext(ss.Context()); len(md.Get("x-hold")) > 0 {
			once.Do(func() { close(held) })
			<-release
		}
		return h(srv, ss)
	}
	reg, err := registry.New(registry.Linked(libraryv1.File_sluice_demo_library_v1_library_proto))
	if err != nil {
		t.Fatal(err)
	}
	gw := gatewaytest.NewGateway(t, gatewaytest.Route(upstream, librarySvc), lim.StreamServerInterceptor(), hold)
	gw.Start(t, server.WithHTTPHandler(newSluiceREST(t, reg, gw.Dispatcher)))
	base := "http://" + gw.Addr
	client := newClient(t)
	url := base + "/v1/" + demo.SeedShelfClassics

	holder := make(chan int, 1)
	var releaseOnce sync.Once
	unblock := func() { releaseOnce.Do(func() { close(release) }) }
	t.Cleanup(unblock) // before the gateway stops
	go func() {
		code, _, _ := restCall(t, client, "GET", url, "", "", newTestID("hold"), http.Header{"Grpc-Metadata-X-Hold": {"1"}})
		holder <- code
	}()
	select {
	case <-held:
	case <-time.After(10 * time.Second):
		t.Fatal("the holding call never reached the chain")
	}

	code, body, hdr := restCall(t, client, "GET", url, "", "", newTestID("refused"), nil)
	if code != http.StatusTooManyRequests {
		t.Fatalf("REST: status %d (%s), want 429", code, body)
	}
	if got := hdr.Get("Retry-After"); got != "3" {
		t.Errorf("REST: Retry-After %q, want \"3\" (2.5s rounded up); headers %v", got, hdr)
	}
	var details []any
	for _, a := range decodeStatusBody(t, body).GetDetails() {
		if m, err := a.UnmarshalNew(); err == nil {
			details = append(details, m)
		}
	}
	if got, ok := retryDelay(details); !ok || got != delay {
		t.Errorf("REST: body %s, want a RetryInfo of %v", body, delay)
	}

	cc := gatewaytest.Dial(t, gw.Addr)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var gh metadata.MD
	err = cc.Invoke(ctx, "/"+librarySvc+"/GetShelf", &libraryv1.GetShelfRequest{Name: demo.SeedShelfClassics}, new(libraryv1.Shelf), grpc.Header(&gh))
	if status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("gRPC: %v, want RESOURCE_EXHAUSTED", err)
	}
	var ri *errdetails.RetryInfo
	for _, d := range status.Convert(err).Details() {
		if r, ok := d.(*errdetails.RetryInfo); ok {
			ri = r
		}
	}
	if ri.GetRetryDelay().AsDuration() != delay {
		t.Errorf("gRPC: details %v, want a RetryInfo of %v", status.Convert(err).Details(), delay)
	}
	if got := gh.Get("retry-after"); len(got) != 1 || got[0] != "3" {
		t.Errorf("gRPC: retry-after header %q, want [3]", got)
	}

	unblock()
	select {
	case code := <-holder:
		if code != http.StatusOK {
			t.Errorf("the holding call ended with %d, want 200", code)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the holding call never ended")
	}
}
