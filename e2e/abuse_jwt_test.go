package e2e_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/sluice-dev/sluice/demo"
	libraryv1 "github.com/sluice-dev/sluice/gen/go/sluice/demo/library/v1"
	"github.com/sluice-dev/sluice/internal/gatewaytest"
	"github.com/sluice-dev/sluice/internal/jwttest"
)

// TestAbuseJWT presents forged, confused and stale tokens on an anonymous
// method and on a protected one, over gRPC, HTTP/1.1 and h2c, and checks
// that every one is refused with UNAUTHENTICATED (401) before reaching the
// upstream, while a valid token is admitted.
func TestAbuseJWT(t *testing.T) {
	gatewaytest.CheckLeaks(t)
	g := startAbuseGateway(t, abuseOptions{})
	clients := httpClients(t, "")

	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&g.key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	valid := g.claims("mallory", writeScope)
	now := time.Now()
	unsigned := func(hdr map[string]any) string {
		return jwttest.Segment(hdr) + "." + jwttest.Segment(valid) + "."
	}

	bad := map[string]string{
		"alg none":                      unsigned(map[string]any{"alg": "none", "typ": "JWT", "kid": abuseKID}),
		"alg None":                      unsigned(map[string]any{"alg": "None", "kid": abuseKID}),
		"alg none with a signature":     unsigned(map[string]any{"alg": "none", "kid": abuseKID}) + "c2ln",
		"HS256 keyed with the RSA PEM":  jwttest.Sign(t, jwt.SigningMethodHS256, pubPEM, abuseKID, valid),
		"HS256 keyed with the RSA DER":  jwttest.Sign(t, jwt.SigningMethodHS256, der, abuseKID, valid),
		"HS256 keyed with the modulus":  jwttest.Sign(t, jwt.SigningMethodHS256, g.key.N.Bytes(), abuseKID, valid),
		"HS256 without kid":             jwttest.Sign(t, jwt.SigningMethodHS256, pubPEM, nil, valid),
		"signed by another key":         jwttest.Sign(t, jwt.SigningMethodRS256, other, abuseKID, valid),
		"unknown kid":                   jwttest.Sign(t, jwt.SigningMethodRS256, other, "nope", valid),
		"kid path traversal":            jwttest.Sign(t, jwt.SigningMethodRS256, other, "../../etc/passwd", valid),
		"kid not a string":              jwttest.Sign(t, jwt.SigningMethodRS256, g.key, 42, valid),
		"RS256 header, PS256 signature": strings.Join(append(strings.Split(jwttest.Sign(t, jwt.SigningMethodRS256, g.key, abuseKID, valid), ".")[:2], strings.Split(jwttest.Sign(t, jwt.SigningMethodPS256, g.key, abuseKID, valid), ".")[2]), "."),
		"expired":                       g.token(t, jwttest.With(valid, "exp", now.Add(-time.Hour).Unix())),
		"not yet valid":                 g.token(t, jwttest.With(valid, "nbf", now.Add(time.Hour).Unix())),
		"no exp":                        g.token(t, jwttest.With(valid, "exp", nil)),
		"wrong audience":                g.token(t, jwttest.With(valid, "aud", "someone-else")),
		"audience list without ours":    g.token(t, jwttest.With(valid, "aud", []string{"a", "b"})),
		"wrong issuer":                  g.token(t, jwttest.With(valid, "iss", "https://evil.example")),
		"empty subject":                 g.token(t, jwttest.With(valid, "sub", "")),
		"payload swapped":               swapPayload(g.token(t, g.claims("nobody")), jwttest.Segment(jwttest.With(valid, "sub", "admin"))),
		"oversized":                     g.token(t, jwttest.With(valid, "pad", strings.Repeat("p", 9000))), // over max_token_size (8 KiB), under the header limit,
		"not a JWT":                     "not.a.jwt",
		"empty":                         "",
	}
	goodTok := g.token(t, valid)

	type target struct {
		grpc  func(ctx context.Context) error
		rest  func(t *testing.T, c *http.Client, id string, hdr http.Header) (int, []byte)
		label string
	}
	lib := libraryv1.NewLibraryServiceClient(g.conn)
	targets := []target{
		{label: "GetShelf (anonymous)",
			grpc: func(ctx context.Context) error {
				_, err := lib.GetShelf(ctx, &libraryv1.GetShelfRequest{Name: demo.SeedShelfClassics})
				return err
			},
			rest: func(t *testing.T, c *http.Client, id string, hdr http.Header) (int, []byte) {
				code, body, _ := restCall(t, c, "GET", g.base+"/v1/"+demo.SeedShelfClassics, "", "", id, hdr)
				return code, body
			}},
		{label: "CreateShelf (library.write)",
			grpc: func(ctx context.Context) error {
				_, err := lib.CreateShelf(ctx, &libraryv1.CreateShelfRequest{Shelf: &libraryv1.Shelf{DisplayName: "jwt"}})
				return err
			},
			rest: func(t *testing.T, c *http.Client, id string, hdr http.Header) (int, []byte) {
				code, body, _ := restCall(t, c, "POST", g.base+"/v1/shelves", `{"shelf":{"displayName":"jwt"}}`, "application/json", id, hdr)
				return code, body
			}},
	}

	check := func(t *testing.T, tok string, admit bool) {
		t.Helper()
		for _, tg := range targets {
			id := newTestID("jwt")
			ctx, cancel := context.WithTimeout(metadata.AppendToOutgoingContext(context.Background(),
				"authorization", "Bearer "+tok, testIDKey, id), abuseWait)
			err := tg.grpc(ctx)
			cancel()
			if admit && err != nil {
				t.Errorf("grpc %s: %v", tg.label, err)
			}
			if !admit && status.Code(err) != codes.Unauthenticated {
				t.Errorf("grpc %s: %v, want UNAUTHENTICATED", tg.label, err)
			}
			for proto, c := range clients {
				rid := newTestID("jwt")
				code, body := tg.rest(t, c, rid, http.Header{"Authorization": {"Bearer " + tok}})
				if admit && code != http.StatusOK {
					t.Errorf("%s %s: %d %.200s", proto, tg.label, code, body)
				}
				if !admit && code != http.StatusUnauthorized {
					t.Errorf("%s %s: %d %.200s, want 401", proto, tg.label, code, body)
				}
				if !admit && len(g.rec.seen(rid)) > 0 {
					t.Errorf("%s %s: the call reached the upstream", proto, tg.label)
				}
			}
			if !admit && len(g.rec.seen(id)) > 0 {
				t.Errorf("grpc %s: the call reached the upstream", tg.label)
			}
		}
	}
	t.Run("valid", func(t *testing.T) { check(t, goodTok, true) })
	for name, tok := range bad {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			check(t, tok, false)
		})
	}
}

// swapPayload replaces the payload of a signed token.
func swapPayload(tok, payload string) string {
	p := strings.Split(tok, ".")
	return p[0] + "." + payload + "." + p[2]
}

// TestAbuseJWTKidFlood presents hundreds of tokens naming made-up key ids
// and checks that all are refused and that the key set is fetched again
// at most once for all of them (policy.authn.jwt.min_refetch_interval),
// so a flood cannot be turned against the identity provider.
func TestAbuseJWTKidFlood(t *testing.T) {
	gatewaytest.CheckLeaks(t)
	g := startAbuseGateway(t, abuseOptions{})
	n := abuseCount(500, 20000)
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	// The first call makes sure the start's fetch is done.
	g.healthy(t)
	before := g.jwksFetches.Load()
	lib := libraryv1.NewLibraryServiceClient(g.conn)
	for i := range n {
		key := any(other)
		if i%2 == 0 {
			key = g.key // a key we trust, under a kid we do not know
		}
		tok := jwttest.Sign(t, jwt.SigningMethodRS256, key, fmt.Sprintf("kid-%d", i), g.claims("flood"))
		ctx, cancel := context.WithTimeout(metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+tok), abuseWait)
		_, err := lib.GetShelf(ctx, &libraryv1.GetShelfRequest{Name: demo.SeedShelfClassics})
		cancel()
		if status.Code(err) != codes.Unauthenticated {
			t.Fatalf("token %d with an unknown kid: %v, want UNAUTHENTICATED", i, err)
		}
	}
	if got := g.jwksFetches.Load() - before; got > 1 {
		t.Errorf("%d tokens with unknown kids caused %d key set fetches, want at most 1", n, got)
	}
	g.healthy(t)
}
