package e2e_test

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"

	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"

	"github.com/sluice-dev/sluice/config"
	"github.com/sluice-dev/sluice/demo"
	libraryv1 "github.com/sluice-dev/sluice/gen/go/sluice/demo/library/v1"
	"github.com/sluice-dev/sluice/internal/gatewaytest"
	"github.com/sluice-dev/sluice/internal/jwttest"
)

// TestAbuseForgedIdentity sends the identity keys the gateway asserts to
// upstreams (policy.identity: subject, provider, scopes and a claim key)
// with forged values, every way a client can — gRPC metadata, repeated,
// under the Grpc-Metadata- prefix, as REST headers over HTTP/1.1 and h2c,
// and as raw HTTP/2 header fields on gRPC and REST streams — anonymously,
// with an API key and with a JWT, and checks that the upstream sees only
// what the gateway verified.
func TestAbuseForgedIdentity(t *testing.T) {
	gatewaytest.CheckLeaks(t)
	g := startAbuseGateway(t, abuseOptions{})
	clients := httpClients(t, "")
	keys := []string{"x-sluice-subject", "x-sluice-provider", "x-sluice-scopes", abuseRoleKey}
	const forged = "admin"

	type cred struct {
		name   string
		header [2]string // name, value; empty for none
		want   map[string][]string
	}
	jwtTok := g.token(t, g.claims("alice", writeScope))
	jwtRoleTok := g.token(t, jwttest.With(g.claims("carol", readScope), "role", "editor"))
	creds := []cred{
		{name: "anonymous", want: map[string][]string{}},
		{name: "api key", header: [2]string{"x-api-key", apiKeyCI}, want: map[string][]string{
			"x-sluice-subject": {"ci-bot"}, "x-sluice-provider": {config.ProviderAPIKey}, "x-sluice-scopes": {writeScope}}},
		{name: "jwt", header: [2]string{"authorization", "Bearer " + jwtTok}, want: map[string][]string{
			"x-sluice-subject": {"alice"}, "x-sluice-provider": {config.ProviderJWT}, "x-sluice-scopes": {writeScope}}},
		{name: "jwt with role", header: [2]string{"authorization", "Bearer " + jwtRoleTok}, want: map[string][]string{
			"x-sluice-subject": {"carol"}, "x-sluice-provider": {config.ProviderJWT}, "x-sluice-scopes": {readScope}, abuseRoleKey: {"editor"}}},
	}
	// forgedFields are the header fields of the forgery, as name, value
	// pairs: each key plain, repeated, and under one and two
	// Grpc-Metadata- prefixes.
	var forgedFields []string
	for _, k := range keys {
		forgedFields = append(forgedFields, k, forged, k, forged+"2",
			"grpc-metadata-"+k, forged, "grpc-metadata-grpc-metadata-"+k, forged)
	}

	verify := func(t *testing.T, via string, c cred, id string) {
		t.Helper()
		seen := g.rec.seen(id)
		if len(seen) != 1 {
			t.Errorf("%s: %d calls reached the upstream, want 1", via, len(seen))
			return
		}
		md := seen[0].md
		for _, k := range keys {
			if got := md.Get(k); !slices.Equal(got, c.want[k]) {
				t.Errorf("%s: upstream saw %s %q, want %q", via, k, got, c.want[k])
			}
		}
		for k, vs := range md {
			for _, v := range vs {
				if strings.Contains(v, forged) {
					// A key that is not one the gateway asserts may carry
					// a client's value, but never under a name an
					// upstream could take for the gateway's.
					if slices.Contains(keys, strings.TrimPrefix(k, "grpc-metadata-")) {
						t.Errorf("%s: upstream saw %s: %q", via, k, v)
					}
				}
			}
		}
	}

	for _, c := range creds {
		t.Run(c.name+"/grpc", func(t *testing.T) {
			id := newTestID("forge")
			md := metadata.Pairs(testIDKey, id)
			for i := 0; i+1 < len(forgedFields); i += 2 {
				md.Append(forgedFields[i], forgedFields[i+1])
			}
			if c.header[0] != "" {
				md.Set(c.header[0], c.header[1])
			}
			ctx, cancel := context.WithTimeout(metadata.NewOutgoingContext(context.Background(), md), abuseWait)
			defer cancel()
			if _, err := libraryv1.NewLibraryServiceClient(g.conn).GetShelf(ctx, &libraryv1.GetShelfRequest{Name: demo.SeedShelfClassics}); err != nil {
				t.Fatal(err)
			}
			verify(t, "grpc", c, id)
		})
		for proto, hc := range clients {
			t.Run(c.name+"/"+proto, func(t *testing.T) {
				id := newTestID("forge")
				hdr := http.Header{}
				for i := 0; i+1 < len(forgedFields); i += 2 {
					hdr.Add(forgedFields[i], forgedFields[i+1])
				}
				if c.header[0] != "" {
					hdr.Set(c.header[0], c.header[1])
				}
				code, body, _ := restCall(t, hc, "GET", g.base+"/v1/"+demo.SeedShelfClassics, "", "", id, hdr)
				if code != http.StatusOK {
					t.Fatalf("%d %s", code, body)
				}
				verify(t, proto, c, id)
			})
		}
		for _, side := range []string{"grpc", "rest"} {
			t.Run(c.name+"/raw h2 "+side, func(t *testing.T) {
				h := dialH2(t, g.addr)
				id := newTestID("forge")
				tag := testIDKey
				if side == "rest" {
					tag = "grpc-metadata-" + testIDKey
				}
				extra := append([]string{tag, id}, forgedFields...)
				if c.header[0] != "" {
					extra = append(extra, c.header[0], c.header[1])
				}
				var sid uint32
				var err error
				if side == "grpc" {
					sid, err = h.open(false, grpcHeaders(g.addr, svcPrefix+"GetShelf", extra...)...)
					if err == nil {
						msg, _ := proto.Marshal(&libraryv1.GetShelfRequest{Name: demo.SeedShelfClassics})
						err = h.data(sid, grpcMessage(false, msg), true)
					}
				} else {
					sid, err = h.open(true, restHeaders(g.addr, "GET", "/v1/"+demo.SeedShelfClassics, extra...)...)
				}
				if err != nil {
					t.Fatal(err)
				}
				r, ok := h.wait(sid)
				if !ok || (side == "grpc" && r.grpcStatus != "0") || (side == "rest" && r.status != "200") {
					t.Fatalf("call: %v", r)
				}
				verify(t, "raw h2 "+side, c, id)
			})
		}
	}
	g.healthy(t)
}
