package authn_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/sluice-dev/sluice/interceptors/authn"
	"github.com/sluice-dev/sluice/interceptors/authz"
	"github.com/sluice-dev/sluice/interceptors/identity"
	"github.com/sluice-dev/sluice/internal/gatewaytest"
	"github.com/sluice-dev/sluice/internal/jwttest"
)

const (
	testIssuer   = "https://issuer.test"
	testAudience = "sluice"
	testAPIKey   = "s3cret-api-key"
)

// testKeys are generated once: RSA key generation is slow.
type testKeys struct {
	rsaA, rsaB, rsaOther *rsa.PrivateKey
	ec                   *ecdsa.PrivateKey
	ed                   ed25519.PrivateKey
}

var (
	keysOnce sync.Once
	keys     testKeys
)

func getKeys(t testing.TB) testKeys {
	keysOnce.Do(func() {
		mustRSA := func() *rsa.PrivateKey {
			k, err := rsa.GenerateKey(rand.Reader, 2048)
			if err != nil {
				panic(err)
			}
			return k
		}
		keys.rsaA, keys.rsaB, keys.rsaOther = mustRSA(), mustRSA(), mustRSA()
		var err error
		if keys.ec, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
			panic(err)
		}
		if _, keys.ed, err = ed25519.GenerateKey(rand.Reader); err != nil {
			panic(err)
		}
	})
	return keys
}

// jwksDoc builds a key set document; alg may be empty.
func jwksDoc(t testing.TB, entries ...jwkEntry) []byte {
	t.Helper()
	var doc jwkset.JWKSMarshal
	for _, e := range entries {
		jwk, err := jwkset.NewJWKFromKey(e.pub, jwkset.JWKOptions{Metadata: jwkset.JWKMetadataOptions{KID: e.kid, ALG: jwkset.ALG(e.alg)}})
		if err != nil {
			t.Fatal(err)
		}
		doc.Keys = append(doc.Keys, jwk.Marshal())
	}
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

type jwkEntry struct {
	kid, alg string
	pub      any
}

// jwksServer serves a swappable key set and counts the fetches.
type jwksServer struct {
	*httptest.Server
	doc     atomic.Pointer[[]byte]
	down    atomic.Bool
	fetches atomic.Int64
}

func startJWKS(t testing.TB, doc []byte) *jwksServer {
	s := &jwksServer{}
	s.set(doc)
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.fetches.Add(1)
		if s.down.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(*s.doc.Load())
	}))
	t.Cleanup(func() {
		s.Client().CloseIdleConnections()
		s.Close()
	})
	return s
}

func (s *jwksServer) set(doc []byte) { s.doc.Store(&doc) }

// clock is a settable time source shared by the authenticator and the
// token minting of a test.
type clock struct{ off atomic.Int64 }

var epoch = time.Now().Truncate(time.Second)

func (c *clock) now() time.Time           { return epoch.Add(time.Duration(c.off.Load())) }
func (c *clock) advance(d time.Duration)  { c.off.Add(int64(d)) }
func (c *clock) at(d time.Duration) int64 { return c.now().Add(d).Unix() }

// env is one gateway with authn, authz and identity propagation in front
// of an echo upstream.
type env struct {
	keys  testKeys
	jwks  *jwksServer
	clock *clock
	up    *gatewaytest.Echo
	cc    *grpc.ClientConn
	authn *authn.Authenticator
}

// testJWT is the jwt provider with the configuration's defaults, keys
// from url.
func testJWT(url string) authn.JWT {
	return authn.JWT{
		JWKSURL:         url,
		RefreshInterval: 5 * time.Minute,
		MinRefetch:      30 * time.Second,
		FetchTimeout:    10 * time.Second,
		Issuer:          testIssuer,
		Audiences:       []string{testAudience},
		Leeway:          30 * time.Second,
		SubjectClaim:    "sub",
		ScopeClaim:      "scope",
		MaxTokenSize:    8 << 10,
	}
}

// testAuthnConfig configures jwt (keys from url) and one API key.
func testAuthnConfig(url string) []authn.Option {
	j := testJWT(url)
	j.Audiences = []string{testAudience, "other-audience"}
	j.RequiredClaims = []string{"tenant"}
	return []authn.Option{
		authn.WithJWT(j),
		authn.WithAPIKeys("x-api-key", authn.APIKey{Name: "ci", Hash: authn.HashAPIKey(testAPIKey), Scopes: []string{"library.read"}}),
	}
}

func testPolicy() []authz.Option {
	return []authz.Option{
		authz.WithDefault(authz.Deny),
		authz.WithRules(
			authz.Rule{Methods: []string{"test.Echo.Public"}, Access: authz.Anonymous},
			authz.Rule{Methods: []string{"test.Echo"}, Access: authz.Authenticated},
			authz.Rule{Methods: []string{"test.Echo.Write"}, Access: authz.Authenticated, Scopes: []string{"library.write"}},
			authz.Rule{Methods: []string{"test.Echo.Admin"}, Access: authz.Authenticated, Claims: []string{"role == admin"}},
			authz.Rule{Methods: []string{"test.Echo.KeyOnly"}, Access: authz.Authenticated, Providers: []string{"api_key"}},
			authz.Rule{Methods: []string{"test.Echo.Closed"}, Access: authz.Deny},
		),
	}
}

func newEnv(t *testing.T) *env {
	t.Helper()
	k := getKeys(t)
	e := &env{keys: k, clock: &clock{}}
	e.jwks = startJWKS(t, jwksDoc(t,
		jwkEntry{"a", "", &k.rsaA.PublicKey},
		jwkEntry{"ec", "ES256", &k.ec.PublicKey},
		jwkEntry{"ed", "", k.ed.Public()},
	))
	pol, err := authz.New(testPolicy()...)
	if err != nil {
		t.Fatal(err)
	}
	e.authn, err = authn.New(append(testAuthnConfig(e.jwks.URL),
		authn.WithMethodPolicy(pol),
		authn.WithHTTPClient(e.jwks.Client()),
		authn.WithClock(e.clock.now))...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.authn.Close)
	prop, err := identity.NewPropagator(
		identity.WithSubjectKey("x-sluice-subject"),
		identity.WithProviderKey("x-sluice-provider"),
		identity.WithScopesKey("x-sluice-scopes"),
		identity.WithStrip("authorization", "x-api-key"))
	if err != nil {
		t.Fatal(err)
	}
	e.up = gatewaytest.StartEcho(t)
	gw := gatewaytest.StartGateway(t, gatewaytest.Route(e.up.Addr, "*"), e.authn.StreamServerInterceptor(), pol.StreamServerInterceptor(), prop.StreamServerInterceptor())
	e.cc = gatewaytest.Dial(t, gw.Addr)
	return e
}

// claims returns valid claims for subject at the env's clock.
func (e *env) claims(sub string) jwt.MapClaims {
	return jwt.MapClaims{
		"iss":    testIssuer,
		"aud":    testAudience,
		"sub":    sub,
		"tenant": "t1",
		"iat":    e.clock.at(-time.Minute),
		"nbf":    e.clock.at(-time.Minute),
		"exp":    e.clock.at(time.Hour),
	}
}

// TestTokens is the acceptance table: every kind of token, right or
// wrong, gets the right code, and the upstream sees the verified subject.
func TestTokens(t *testing.T) {
	gatewaytest.CheckLeaks(t)
	e := newEnv(t)
	k := e.keys
	valid := e.claims("alice")
	rs := func(c jwt.MapClaims) string { return jwttest.Sign(t, jwt.SigningMethodRS256, k.rsaA, "a", c) }

	pubPEM := func() []byte {
		der, err := x509.MarshalPKIXPublicKey(&k.rsaA.PublicKey)
		if err != nil {
			t.Fatal(err)
		}
		return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	}()
	good := rs(valid)
	parts := strings.Split(good, ".")
	tampered := parts[0] + "." + jwttest.Segment(jwttest.With(valid, "sub", "mallory")) + "." + parts[2]
	noneTok := jwttest.Segment(map[string]any{"alg": "none", "typ": "JWT", "kid": "a"}) + "." + jwttest.Segment(valid) + "."
	noneUpper := jwttest.Segment(map[string]any{"alg": "NONE", "kid": "a"}) + "." + jwttest.Segment(valid) + "."
	esWithRSA := jwttest.Sign(t, jwt.SigningMethodRS256, k.rsaA, "ec", valid) // kid of an EC key, RSA alg

	bearer := func(tok string) metadata.MD { return metadata.Pairs("authorization", "Bearer "+tok) }
	type tc struct {
		name    string
		method  string // default /test.Echo/Get
		md      metadata.MD
		code    codes.Code
		subject string // expected upstream x-sluice-subject on success
	}
	cases := []tc{
		{name: "valid RS256", md: bearer(good), code: codes.OK, subject: "alice"},
		{name: "valid PS256 on unpinned RSA key", md: bearer(jwttest.Sign(t, jwt.SigningMethodPS256, k.rsaA, "a", valid)), code: codes.OK, subject: "alice"},
		{name: "valid ES256", md: bearer(jwttest.Sign(t, jwt.SigningMethodES256, k.ec, "ec", valid)), code: codes.OK, subject: "alice"},
		{name: "valid EdDSA", md: bearer(jwttest.Sign(t, jwt.SigningMethodEdDSA, k.ed, "ed", valid)), code: codes.OK, subject: "alice"},
		{name: "valid without kid", md: bearer(jwttest.Sign(t, jwt.SigningMethodRS256, k.rsaA, nil, valid)), code: codes.OK, subject: "alice"},
		{name: "lower-case bearer scheme", md: metadata.Pairs("authorization", "bearer "+good), code: codes.OK, subject: "alice"},
		{name: "aud list with an accepted audience", md: bearer(rs(jwttest.With(valid, "aud", []string{"x", testAudience}))), code: codes.OK, subject: "alice"},
		{name: "expired within leeway", md: bearer(rs(jwttest.With(valid, "exp", e.clock.at(-10*time.Second)))), code: codes.OK, subject: "alice"},
		{name: "nbf within leeway", md: bearer(rs(jwttest.With(valid, "nbf", e.clock.at(10*time.Second)))), code: codes.OK, subject: "alice"},
		{name: "expired", md: bearer(rs(jwttest.With(valid, "exp", e.clock.at(-time.Hour)))), code: codes.Unauthenticated},
		{name: "not yet valid", md: bearer(rs(jwttest.With(valid, "nbf", e.clock.at(time.Hour)))), code: codes.Unauthenticated},
		{name: "issued in the future", md: bearer(rs(jwttest.With(valid, "iat", e.clock.at(time.Hour)))), code: codes.Unauthenticated},
		{name: "no exp", md: bearer(rs(jwttest.With(valid, "exp", nil))), code: codes.Unauthenticated},
		{name: "wrong iss", md: bearer(rs(jwttest.With(valid, "iss", "https://evil.test"))), code: codes.Unauthenticated},
		{name: "no iss", md: bearer(rs(jwttest.With(valid, "iss", nil))), code: codes.Unauthenticated},
		{name: "wrong aud", md: bearer(rs(jwttest.With(valid, "aud", "billing"))), code: codes.Unauthenticated},
		{name: "no aud", md: bearer(rs(jwttest.With(valid, "aud", nil))), code: codes.Unauthenticated},
		{name: "missing required claim", md: bearer(rs(jwttest.With(valid, "tenant", nil))), code: codes.Unauthenticated},
		{name: "no subject", md: bearer(rs(jwttest.With(valid, "sub", nil))), code: codes.Unauthenticated},
		{name: "alg none", md: bearer(noneTok), code: codes.Unauthenticated},
		{name: "alg NONE", md: bearer(noneUpper), code: codes.Unauthenticated},
		{name: "HS256 with the RSA public key PEM as secret", md: bearer(jwttest.Sign(t, jwt.SigningMethodHS256, pubPEM, "a", valid)), code: codes.Unauthenticated},
		{name: "HS256 with the RSA modulus as secret", md: bearer(jwttest.Sign(t, jwt.SigningMethodHS256, k.rsaA.PublicKey.N.Bytes(), "a", valid)), code: codes.Unauthenticated},
		{name: "RS256 under the kid of an ES256 key", md: bearer(esWithRSA), code: codes.Unauthenticated},
		{name: "signed by another key under a known kid", md: bearer(jwttest.Sign(t, jwt.SigningMethodRS256, k.rsaOther, "a", valid)), code: codes.Unauthenticated},
		{name: "tampered payload", md: bearer(tampered), code: codes.Unauthenticated},
		{name: "unknown kid", md: bearer(jwttest.Sign(t, jwt.SigningMethodRS256, k.rsaOther, "nope", valid)), code: codes.Unauthenticated},
		{name: "kid not a string", md: bearer(jwttest.Sign(t, jwt.SigningMethodRS256, k.rsaA, 7, valid)), code: codes.Unauthenticated},
		{name: "garbage", md: bearer("not-a-jwt"), code: codes.Unauthenticated},
		{name: "garbage with three parts", md: bearer("aaa.bbb.ccc"), code: codes.Unauthenticated},
		{name: "oversized", md: bearer(good + strings.Repeat("A", 9<<10)), code: codes.Unauthenticated},
		{name: "empty bearer", md: metadata.Pairs("authorization", "Bearer "), code: codes.Unauthenticated},
		{name: "basic scheme", md: metadata.Pairs("authorization", "Basic YWxpY2U6cHc="), code: codes.Unauthenticated},
		{name: "token without scheme", md: metadata.Pairs("authorization", good), code: codes.Unauthenticated},
		{name: "token in the wrong header", md: metadata.Pairs("x-token", good), code: codes.Unauthenticated},
		{name: "two authorization values", md: metadata.Pairs("authorization", "Bearer "+good, "authorization", "Bearer "+good), code: codes.Unauthenticated},
		{name: "no credentials", md: metadata.MD{}, code: codes.Unauthenticated},
		{name: "public without credentials", method: "/test.Echo/Public", md: metadata.MD{}, code: codes.OK},
		{name: "public with a bad token", method: "/test.Echo/Public", md: bearer("garbage"), code: codes.Unauthenticated},
		{name: "missing scope", method: "/test.Echo/Write", md: bearer(good), code: codes.PermissionDenied},
		{name: "scope held", method: "/test.Echo/Write", md: bearer(rs(jwttest.With(valid, "scope", "library.read library.write"))), code: codes.OK, subject: "alice"},
		{name: "claim not met", method: "/test.Echo/Admin", md: bearer(good), code: codes.PermissionDenied},
		{name: "claim met", method: "/test.Echo/Admin", md: bearer(rs(jwttest.With(valid, "role", "admin"))), code: codes.OK, subject: "alice"},
		{name: "denied rule", method: "/test.Echo/Closed", md: bearer(good), code: codes.PermissionDenied},
		{name: "default deny", method: "/test.Other/Get", md: bearer(good), code: codes.PermissionDenied},
		{name: "api key", md: metadata.Pairs("x-api-key", testAPIKey), code: codes.OK, subject: "ci"},
		{name: "wrong api key", md: metadata.Pairs("x-api-key", "guess"), code: codes.Unauthenticated},
		{name: "two api keys", md: metadata.Pairs("x-api-key", testAPIKey, "x-api-key", testAPIKey), code: codes.Unauthenticated},
		{name: "api-key-only method with a token", method: "/test.Echo/KeyOnly", md: bearer(good), code: codes.Unauthenticated},
		{name: "api-key-only method with a key", method: "/test.Echo/KeyOnly", md: metadata.Pairs("x-api-key", testAPIKey), code: codes.OK, subject: "ci"},
		{name: "scope list held", method: "/test.Echo/Write", md: bearer(rs(jwttest.With(valid, "scope", []string{"library.read", "library.write"}))), code: codes.OK, subject: "alice"},
		// A list element with a space is not a scope: upstreams, which get
		// scopes space-separated, would read scopes never granted.
		{name: "scope list element with a space", md: bearer(rs(jwttest.With(valid, "scope", []string{"read admin", "library.write"}))), code: codes.Unauthenticated},
		{name: "scope list element with a tab", method: "/test.Echo/Write", md: bearer(rs(jwttest.With(valid, "scope", []string{"library.write", "read\tadmin"}))), code: codes.Unauthenticated},
		// RFC 7515 section 4.1.11: crit naming extensions sluice does not
		// understand, or malformed, refuses the token.
		{name: "crit names an unknown extension", md: bearer(withHeader(t, k.rsaA, valid, "crit", []string{"urn:example:ext"}, "urn:example:ext", true)), code: codes.Unauthenticated},
		{name: "crit names b64", md: bearer(withHeader(t, k.rsaA, valid, "crit", []string{"b64"}, "b64", true)), code: codes.Unauthenticated},
		{name: "crit empty", md: bearer(withHeader(t, k.rsaA, valid, "crit", []string{})), code: codes.Unauthenticated},
		{name: "crit not a list", md: bearer(withHeader(t, k.rsaA, valid, "crit", "urn:example:ext", "urn:example:ext", true)), code: codes.Unauthenticated},
		{name: "crit names a registered header", md: bearer(withHeader(t, k.rsaA, valid, "crit", []string{"kid"})), code: codes.Unauthenticated},
		{name: "crit holds a number", md: bearer(withHeader(t, k.rsaA, valid, "crit", []any{7})), code: codes.Unauthenticated},
		{name: "crit null", md: bearer(withHeader(t, k.rsaA, valid, "crit", nil)), code: codes.Unauthenticated},
		{name: "unknown non-critical header", md: bearer(withHeader(t, k.rsaA, valid, "urn:example:ext", true)), code: codes.OK, subject: "alice"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			method := c.method
			if method == "" {
				method = "/test.Echo/Get"
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			ctx = metadata.NewOutgoingContext(ctx, c.md)
			got, header, err := gatewaytest.Call(ctx, e.cc, method, "hi-"+c.name)
			if code := status.Code(err); code != c.code {
				t.Fatalf("code = %v (%v), want %v", code, err, c.code)
			}
			if err != nil {
				msg := status.Convert(err).Message()
				for _, v := range c.md.Get("authorization") {
					if tok := strings.TrimPrefix(v, "Bearer "); len(tok) > 8 && strings.Contains(msg, tok) {
						t.Errorf("message echoes the token: %q", msg)
					}
				}
				if strings.Contains(msg, testAPIKey) {
					t.Errorf("message echoes the API key: %q", msg)
				}
				if c.code == codes.Unauthenticated && len(header.Get(authn.ChallengeKey)) == 0 {
					t.Errorf("no %s header on %v", authn.ChallengeKey, err)
				}
				// RFC 6750: the bearer challenge says invalid_token only
				// when a bearer token was sent and refused.
				if len(c.md.Get("authorization")) == 0 {
					for _, v := range header.Get(authn.ChallengeKey) {
						if strings.Contains(v, "invalid_token") {
							t.Errorf("challenge %q blames a bearer token the call did not send", v)
						}
					}
				}
				return
			}
			if got != "hi-"+c.name {
				t.Errorf("answer = %q", got)
			}
			// The echo upstream answers only after recording the call, so
			// the call is recorded; find it by its subject.
			if c.subject != "" {
				if !sawSubject(e.up, c.subject) {
					t.Errorf("upstream never saw subject %q", c.subject)
				}
			}
		})
	}
}

// withHeader returns claims signed RS256 by key under kid "a", with the
// header parameters of the name/value pairs kv added.
func withHeader(t *testing.T, key *rsa.PrivateKey, claims jwt.MapClaims, kv ...any) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
	tok.Header["kid"] = "a"
	for i := 0; i+1 < len(kv); i += 2 {
		tok.Header[kv[i].(string)] = kv[i+1]
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// sawSubject reports whether a call reached up with the x-sluice-subject sub.
func sawSubject(up *gatewaytest.Echo, sub string) bool {
	for _, c := range up.Calls() {
		if v := c.Metadata.Get("x-sluice-subject"); len(v) == 1 && v[0] == sub {
			return true
		}
	}
	return false
}

// TestKeyRotation: a token signed by a key the gateway has not seen yet is
// accepted once the JWKS endpoint serves it, through one re-fetch.
func TestKeyRotation(t *testing.T) {
	gatewaytest.CheckLeaks(t)
	e := newEnv(t)
	k := e.keys
	tok := jwttest.Sign(t, jwt.SigningMethodRS256, k.rsaB, "b", e.claims("bob"))
	ctx := metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+tok)
	before := e.jwks.fetches.Load()

	// Rotated at the provider, but the last fetch was just now: the
	// unknown kid may not trigger a fetch yet.
	e.jwks.set(jwksDoc(t, jwkEntry{"a", "", &k.rsaA.PublicKey}, jwkEntry{"b", "", &k.rsaB.PublicKey}))
	if _, _, err := gatewaytest.Call(ctx, e.cc, "/test.Echo/Get", "x"); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("before min_refetch_interval: %v, want Unauthenticated", err)
	}
	if got := e.jwks.fetches.Load() - before; got != 0 {
		t.Fatalf("fetches within min_refetch_interval = %d, want 0", got)
	}
	e.clock.advance(31 * time.Second)
	if _, _, err := gatewaytest.Call(ctx, e.cc, "/test.Echo/Get", "x"); err != nil {
		t.Fatalf("after rotation: %v", err)
	}
	if got := e.jwks.fetches.Load() - before; got != 1 {
		t.Fatalf("fetches = %d, want 1", got)
	}
}

// TestUnknownKidFlood: many calls with made-up kids cost at most one fetch
// per min_refetch_interval.
func TestUnknownKidFlood(t *testing.T) {
	gatewaytest.CheckLeaks(t)
	e := newEnv(t)
	e.clock.advance(31 * time.Second) // past the initial fetch's interval
	before := e.jwks.fetches.Load()
	flood := func(round int) {
		var wg sync.WaitGroup
		for i := range 100 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				tok := jwttest.Sign(t, jwt.SigningMethodRS256, e.keys.rsaOther, fmt.Sprintf("made-up-%d-%d", round, i), e.claims("x"))
				ctx := metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+tok)
				if _, _, err := gatewaytest.Call(ctx, e.cc, "/test.Echo/Get", "x"); status.Code(err) != codes.Unauthenticated {
					t.Errorf("made-up kid: %v, want Unauthenticated", err)
				}
			}()
		}
		wg.Wait()
	}
	flood(1)
	if got := e.jwks.fetches.Load() - before; got != 1 {
		t.Fatalf("fetches during the first flood = %d, want 1", got)
	}
	flood(2) // same interval: no fetch at all
	if got := e.jwks.fetches.Load() - before; got != 1 {
		t.Fatalf("fetches after the second flood = %d, want 1", got)
	}
	e.clock.advance(31 * time.Second)
	flood(3)
	if got := e.jwks.fetches.Load() - before; got != 2 {
		t.Fatalf("fetches after the next interval = %d, want 2", got)
	}
}

// TestJWKSDown: when the key set cannot be fetched, the last good keys
// stay in use.
func TestJWKSDown(t *testing.T) {
	gatewaytest.CheckLeaks(t)
	e := newEnv(t)
	e.jwks.down.Store(true)
	e.clock.advance(6 * time.Minute) // past refresh_interval: refresh due
	before := e.jwks.fetches.Load()
	for i := range 3 {
		tok := jwttest.Sign(t, jwt.SigningMethodRS256, e.keys.rsaA, "a", e.claims("alice"))
		ctx := metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+tok)
		if _, _, err := gatewaytest.Call(ctx, e.cc, "/test.Echo/Get", "x"); err != nil {
			t.Fatalf("call %d with the JWKS endpoint down: %v", i, err)
		}
	}
	// The refresh was attempted (in the background) and failed.
	deadline := time.Now().Add(20 * time.Second)
	for e.jwks.fetches.Load() == before && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if e.jwks.fetches.Load() == before {
		t.Fatal("no refresh attempted")
	}
}

// TestNoKeysYet: with the JWKS endpoint down from the start, tokens cannot
// be verified and the refusal says the gateway is unavailable, not that
// the caller is wrong.
func TestNoKeysYet(t *testing.T) {
	gatewaytest.CheckLeaks(t)
	s := startJWKS(t, nil)
	s.down.Store(true)
	a, err := authn.New(append(testAuthnConfig(s.URL), authn.WithHTTPClient(s.Client()))...)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	k := getKeys(t)
	c := &clock{}
	e := &env{clock: c}
	tok := jwttest.Sign(t, jwt.SigningMethodRS256, k.rsaA, "a", jwttest.With(e.claims("alice"), "iat", time.Now().Unix(), "nbf", time.Now().Unix(), "exp", time.Now().Add(time.Hour).Unix()))
	ctx := metadata.NewIncomingContext(context.Background(), metadata.Pairs("authorization", "Bearer "+tok))
	if _, err := a.Authenticate(ctx, "/test.Echo/Get"); status.Code(err) != codes.Unavailable {
		t.Fatalf("got %v, want Unavailable", err)
	}
}

// TestJWKSFile: a jwks_file is read at start and its keys verify tokens;
// one that holds no usable key set fails New with the reason, not only
// that no keys were loaded.
func TestJWKSFile(t *testing.T) {
	gatewaytest.CheckLeaks(t)
	k := getKeys(t)
	cfg := func(path string) authn.Option {
		j := testJWT("")
		j.JWKSFile = path
		return authn.WithJWT(j)
	}
	dir := t.TempDir()
	good := filepath.Join(dir, "good.json")
	if err := os.WriteFile(good, jwksDoc(t, jwkEntry{"a", "", &k.rsaA.PublicKey}), 0o600); err != nil {
		t.Fatal(err)
	}
	a, err := authn.New(cfg(good))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	now := time.Now()
	tok := jwttest.Sign(t, jwt.SigningMethodRS256, k.rsaA, "a", jwt.MapClaims{
		"iss": testIssuer, "aud": testAudience, "sub": "alice",
		"iat": now.Add(-time.Minute).Unix(), "exp": now.Add(time.Hour).Unix(),
	})
	ctx := metadata.NewIncomingContext(context.Background(), metadata.Pairs("authorization", "Bearer "+tok))
	if id, err := a.Authenticate(ctx, "/test.Echo/Get"); err != nil || id == nil || id.Subject != "alice" {
		t.Fatalf("token verified with the file's key: %v, %v; want alice", id, err)
	}

	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte("not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	if a, err := authn.New(cfg(bad)); err == nil {
		a.Close()
		t.Fatal("New accepted a jwks_file that holds no key set")
	} else if !strings.Contains(err.Error(), "bad.json") || !strings.Contains(err.Error(), "parse key set") {
		t.Errorf("New error = %q, want the file and why it is unusable", err)
	}
}

// TestNewRefuses: settings a provider cannot work with are refused at
// construction, whoever builds the Authenticator.
func TestNewRefuses(t *testing.T) {
	t.Parallel()
	jwtWith := func(f func(*authn.JWT)) authn.Option {
		j := testJWT("https://idp.example/jwks")
		f(&j)
		return authn.WithJWT(j)
	}
	key := authn.APIKey{Name: "ci", Hash: authn.HashAPIKey("k")}
	for name, opt := range map[string]authn.Option{
		"jwt without key source": jwtWith(func(j *authn.JWT) { j.JWKSURL = "" }),
		"jwt with two sources":   jwtWith(func(j *authn.JWT) { j.JWKSFile = "/jwks.json" }),
		"jwt without issuer":     jwtWith(func(j *authn.JWT) { j.Issuer = "" }),
		"jwt without audience":   jwtWith(func(j *authn.JWT) { j.Audiences = nil }),
		"jwt empty audience":     jwtWith(func(j *authn.JWT) { j.Audiences = []string{""} }),
		"jwt HMAC":               jwtWith(func(j *authn.JWT) { j.Algorithms = []string{"HS256"} }),
		"jwt no refresh":         jwtWith(func(j *authn.JWT) { j.RefreshInterval = 0 }),
		"jwt no subject claim":   jwtWith(func(j *authn.JWT) { j.SubjectClaim = "" }),
		"jwt no token size":      jwtWith(func(j *authn.JWT) { j.MaxTokenSize = 0 }),
		"api key bad header":     authn.WithAPIKeys("X-Api-Key", key),
		"api key none":           authn.WithAPIKeys("x-api-key"),
		"api key bad hash":       authn.WithAPIKeys("x-api-key", authn.APIKey{Name: "ci", Hash: "k"}),
		"api key no name":        authn.WithAPIKeys("x-api-key", authn.APIKey{Hash: key.Hash}),
		"api key name twice":     authn.WithAPIKeys("x-api-key", key, authn.APIKey{Name: "ci", Hash: authn.HashAPIKey("other")}),
		"api key hash twice":     authn.WithAPIKeys("x-api-key", key, authn.APIKey{Name: "other", Hash: key.Hash}),
		"mtls bad subject":       authn.WithMTLS("serial"),
	} {
		if a, err := authn.New(opt); err == nil {
			a.Close()
			t.Errorf("%s: New succeeded", name)
		}
	}
	a, err := authn.New(authn.WithAPIKeys("x-api-key", key), authn.WithMTLS(authn.SubjectURISAN))
	if err != nil {
		t.Fatal(err)
	}
	if got := a.Providers(); !slices.Equal(got, []string{identity.ProviderAPIKey, identity.ProviderMTLS}) {
		t.Errorf("Providers = %q", got)
	}
}
