package e2e_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"
	"google.golang.org/grpc/codes"

	"github.com/sluice-dev/sluice/config"
	"github.com/sluice-dev/sluice/demo"
	"github.com/sluice-dev/sluice/interceptors/authn"
	"github.com/sluice-dev/sluice/internal/gatewaytest"
	"github.com/sluice-dev/sluice/internal/jwttest"
)

// These tests are the token table of interceptors/authn (issue 5,
// acceptance 1) over REST: the same tokens, sent as HTTP headers to a real
// gateway whose JWT keys come from a JWKS endpoint the test controls, get
// the HTTP status, google.rpc.Status body and WWW-Authenticate challenge
// that the gRPC table's codes call for.

const (
	anIssuer   = "https://issuer.test"
	anAudience = "sluice"
	anAPIKey   = "s3cret-api-key-0123"
)

// The demo methods standing in for the gRPC table's test.Echo methods,
// each with its rule in anPolicy, and a REST path that reaches it.
const (
	anGet     = "/v1/" + demo.SeedBookMobyDick                    // GetBook: authenticated
	anPublic  = "/v1/" + demo.SeedShelfClassics                   // GetShelf: anonymous
	anWrite   = "/v1/" + demo.SeedShelfClassics + "/books"        // ListBooks: scope library.write
	anWrite2  = "/v1/books"                                       // ListBooks by its additional binding
	anAdmin   = "/v1/" + demo.SeedFileReadingMD                   // GetShelfFile: claim role == admin
	anKeyOnly = "/v1/shelves"                                     // ListShelves: API keys only
	anClosed  = "/v1/" + demo.SeedBookMobyDick + ":download"      // DownloadBook: deny
	anNoRule  = "/v1/" + demo.SeedShelfClassics + "/books:export" // ExportBooks: no rule, default deny
	anMethod  = "sluice.demo.library.v1.LibraryService."          // prefix of the rules' method names
	anErrorCT = "application/json"                                // content type of error bodies
	anFlood   = 100                                               // requests per flood round
	anMinGap  = config.Duration(time.Second)                      // min_refetch_interval of these tests
	anRefresh = config.Duration(5 * time.Minute)                  // refresh_interval of these tests
	anBeyond  = time.Duration(anMinGap) + 10*time.Millisecond     // a clock step past min_refetch_interval
	anDueStep = time.Duration(anRefresh) + time.Second            // a clock step past refresh_interval
)

// anKeys are the signing keys of these tests, generated once: RSA key
// generation is slow, the more so under -race.
type anKeys struct {
	rsaA, rsaB, rsaOther *rsa.PrivateKey
	ec                   *ecdsa.PrivateKey
}

var anKeysOnce = sync.OnceValues(func() (anKeys, error) {
	var k anKeys
	for _, p := range []**rsa.PrivateKey{&k.rsaA, &k.rsaB, &k.rsaOther} {
		key, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			return k, err
		}
		*p = key
	}
	var err error
	k.ec, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	return k, err
})

// anJWK is one entry of a key set document; alg may be empty.
type anJWK struct {
	kid, alg string
	pub      any
}

func anJWKS(t *testing.T, entries ...anJWK) []byte {
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

// anJWKSServer serves a swappable key set, or 503 while down, and counts
// the fetches.
type anJWKSServer struct {
	*httptest.Server
	doc     atomic.Pointer[[]byte]
	down    atomic.Bool
	fetches atomic.Int64
}

func (s *anJWKSServer) set(doc []byte) { s.doc.Store(&doc) }

// anEnv is a gateway with the policy chain of cmd/sluice/policy.go in
// front of a recording demo upstream, verifying JWTs with the keys of its
// JWKS server under a settable clock.
type anEnv struct {
	keys anKeys
	jwks *anJWKSServer
	off  atomic.Int64 // the clock's offset from anEpoch
	base string
	rec  *recorder
}

// anEpoch is the start of every env's clock.
var anEpoch = time.Now().Truncate(time.Second)

func (e *anEnv) now() time.Time          { return anEpoch.Add(time.Duration(e.off.Load())) }
func (e *anEnv) advance(d time.Duration) { e.off.Add(int64(d)) }
func (e *anEnv) at(d time.Duration) int64 {
	return e.now().Add(d).Unix()
}

// anPolicy mirrors the rules of the gRPC table on demo methods.
func anPolicy() config.Authz {
	return config.Authz{
		Default: config.AccessDeny,
		Rules: []config.AuthzRule{
			{Methods: []string{anMethod + "GetShelf"}, Access: config.AccessAnonymous},
			{Methods: []string{anMethod + "GetBook"}, Access: config.AccessAuthenticated},
			{Methods: []string{anMethod + "ListBooks"}, Access: config.AccessAuthenticated, Scopes: []string{writeScope}},
			{Methods: []string{anMethod + "GetShelfFile"}, Access: config.AccessAuthenticated, Claims: []string{"role == admin"}},
			{Methods: []string{anMethod + "ListShelves"}, Access: config.AccessAuthenticated, Providers: []string{config.ProviderAPIKey}},
			{Methods: []string{anMethod + "DownloadBook"}, Access: config.AccessDeny},
		},
	}
}

// startAuthnGateway starts the JWKS server (down from the start when
// down is set), a recording demo upstream and the gateway. Everything
// stops when the test ends.
func startAuthnGateway(t *testing.T, down bool) *anEnv {
	t.Helper()
	k, err := anKeysOnce()
	if err != nil {
		t.Fatal(err)
	}
	e := &anEnv{keys: k}
	e.jwks = &anJWKSServer{}
	e.jwks.down.Store(down)
	e.jwks.set(anJWKS(t, anJWK{"a", "", &k.rsaA.PublicKey}, anJWK{"ec", "ES256", &k.ec.PublicKey}))
	e.jwks.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		e.jwks.fetches.Add(1)
		if e.jwks.down.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(*e.jwks.doc.Load())
	}))
	t.Cleanup(func() {
		e.jwks.Client().CloseIdleConnections()
		e.jwks.Close()
	})

	pol := config.Default().Policy
	pol.Authn.JWT.JWKSURL = e.jwks.URL
	pol.Authn.JWT.Issuer = anIssuer
	pol.Authn.JWT.Audiences = []string{anAudience, "other-audience"}
	pol.Authn.JWT.RequiredClaims = []string{"tenant"}
	pol.Authn.JWT.MinRefetch = anMinGap
	pol.Authn.JWT.RefreshInterval = anRefresh
	pol.Authn.APIKeys.Keys = []config.APIKey{{Name: "ci", Hash: authn.HashAPIKey(anAPIKey), Scopes: []string{readScope}}}
	pol.Authz = anPolicy()
	g := startPolicyGateway(t, gatewayOptions{
		policy: &pol,
		authn:  []authn.Option{authn.WithHTTPClient(e.jwks.Client()), authn.WithClock(e.now)},
	})
	e.rec, e.base = g.rec, g.base
	return e
}

// claims returns valid claims for sub at the env's clock.
func (e *anEnv) claims(sub string) jwt.MapClaims {
	return jwt.MapClaims{
		"iss": anIssuer, "aud": anAudience, "sub": sub, "tenant": "t1",
		"iat": e.at(-time.Minute), "nbf": e.at(-time.Minute), "exp": e.at(time.Hour),
	}
}

// anWant maps the gRPC table's codes to the HTTP statuses REST must give.
var anWant = map[codes.Code]int{
	codes.OK:               http.StatusOK,
	codes.Unauthenticated:  http.StatusUnauthorized,
	codes.PermissionDenied: http.StatusForbidden,
	codes.Unavailable:      http.StatusServiceUnavailable,
}

// anCheck asserts one REST answer: the status code[code], for a refusal a
// google.rpc.Status body with code and a WWW-Authenticate challenge on
// 401, no credential of hdr echoed anywhere, and for an admitted call
// the verified subject (when not empty) at the upstream.
func (e *anEnv) anCheck(t *testing.T, via string, hdr http.Header, id string, code codes.Code, subject string, got int, body []byte, resp http.Header) {
	t.Helper()
	if want := anWant[code]; got != want {
		t.Fatalf("%s: HTTP %d %s, want %d (%v)", via, got, clip(body), want, code)
	}
	// Every word of a credential header longer than a scheme name is a
	// secret (a token, a key, or a piece of one).
	var secrets []string
	for _, vs := range hdr {
		for _, v := range vs {
			for _, f := range strings.FieldsFunc(v, func(r rune) bool { return r == ' ' || r == ',' }) {
				if len(f) > 8 {
					secrets = append(secrets, f)
				}
			}
		}
	}
	for _, s := range secrets {
		if strings.Contains(string(body), s) {
			t.Errorf("%s: body echoes a credential: %s", via, clip(body))
		}
		for k, vs := range resp {
			if strings.Contains(strings.Join(vs, "\n"), s) {
				t.Errorf("%s: response header %s echoes a credential", via, k)
			}
		}
	}
	if code == codes.OK {
		if subject == "" {
			return
		}
		seen := e.rec.seen(id)
		if len(seen) != 1 {
			t.Fatalf("%s: %d calls reached the upstream, want 1", via, len(seen))
		}
		if v := seen[0].md.Get("x-sluice-subject"); len(v) != 1 || v[0] != subject {
			t.Errorf("%s: upstream saw subject %q, want %q", via, v, subject)
		}
		return
	}
	if ct := resp.Get("Content-Type"); !strings.HasPrefix(ct, anErrorCT) {
		t.Errorf("%s: error Content-Type %q", via, ct)
	}
	// A server-streaming method refused before its first message answers
	// in grpc-gateway's stream envelope, {"error": <google.rpc.Status>}
	// (transcoding.StreamEnvelope); unary methods with the bare status.
	var env struct {
		Error json.RawMessage `json:"error"`
	}
	if json.Unmarshal(body, &env) == nil && env.Error != nil {
		body = env.Error
	}
	if st := decodeStatusBody(t, body); codes.Code(st.GetCode()) != code {
		t.Errorf("%s: body code %v (%q), want %v", via, codes.Code(st.GetCode()), st.GetMessage(), code)
	} else if st.GetMessage() == "" {
		t.Errorf("%s: the refusal does not say what is wrong", via)
	}
	challenges := resp.Values("WWW-Authenticate")
	if code == codes.Unauthenticated && len(challenges) == 0 {
		t.Errorf("%s: 401 without WWW-Authenticate", via)
	}
	for _, ch := range challenges {
		if !strings.HasPrefix(ch, "Bearer ") && !strings.HasPrefix(ch, "APIKey ") {
			t.Errorf("%s: challenge %q", via, ch)
		}
	}
	if n := len(e.rec.seen(id)); n != 0 {
		t.Errorf("%s: a refused call reached the upstream %d times", via, n)
	}
}

// anGET sends GET base+path with hdr (every value on its own header line)
// tagged id.
func (e *anEnv) anGET(t *testing.T, c *http.Client, path, id string, hdr http.Header) (int, []byte, http.Header) {
	t.Helper()
	return restCall(t, c, http.MethodGet, e.base+path, "", "", id, hdr)
}

// anHdr builds a header from name/value pairs, keeping repeated names as
// separate values.
func anHdr(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	return h
}

// TestAuthnRESTTokens is the token table over REST, by HTTP/1.1 and h2c:
// every kind of token, right or wrong, gets the status the gRPC table's
// code maps to, and admitted calls reach the upstream as the verified
// subject.
func TestAuthnRESTTokens(t *testing.T) {
	gatewaytest.CheckLeaks(t)
	e := startAuthnGateway(t, false)
	k := e.keys
	valid := e.claims("alice")
	rs := func(c jwt.MapClaims) string { return jwttest.Sign(t, jwt.SigningMethodRS256, k.rsaA, "a", c) }
	der, err := x509.MarshalPKIXPublicKey(&k.rsaA.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	good := rs(valid)
	parts := strings.Split(good, ".")
	tampered := parts[0] + "." + jwttest.Segment(jwttest.With(valid, "sub", "mallory")) + "." + parts[2]
	bearer := func(tok string) http.Header { return anHdr("Authorization", "Bearer "+tok) }

	cases := []struct {
		name    string
		path    string // default anGet
		hdr     http.Header
		code    codes.Code
		subject string // the upstream's x-sluice-subject when admitted
	}{
		{name: "valid RS256", hdr: bearer(good), code: codes.OK, subject: "alice"},
		{name: "valid PS256 on unpinned RSA key", hdr: bearer(jwttest.Sign(t, jwt.SigningMethodPS256, k.rsaA, "a", valid)), code: codes.OK, subject: "alice"},
		{name: "valid ES256", hdr: bearer(jwttest.Sign(t, jwt.SigningMethodES256, k.ec, "ec", valid)), code: codes.OK, subject: "alice"},
		{name: "valid without kid", hdr: bearer(jwttest.Sign(t, jwt.SigningMethodRS256, k.rsaA, nil, valid)), code: codes.OK, subject: "alice"},
		{name: "lower-case bearer scheme", hdr: anHdr("Authorization", "bearer "+good), code: codes.OK, subject: "alice"},
		{name: "lower-case header name", hdr: http.Header{"authorization": {"Bearer " + good}}, code: codes.OK, subject: "alice"},
		{name: "aud list with an accepted audience", hdr: bearer(rs(jwttest.With(valid, "aud", []string{"x", anAudience}))), code: codes.OK, subject: "alice"},
		{name: "expired within leeway", hdr: bearer(rs(jwttest.With(valid, "exp", e.at(-10*time.Second)))), code: codes.OK, subject: "alice"},
		{name: "nbf within leeway", hdr: bearer(rs(jwttest.With(valid, "nbf", e.at(10*time.Second)))), code: codes.OK, subject: "alice"},
		{name: "expired", hdr: bearer(rs(jwttest.With(valid, "exp", e.at(-time.Hour)))), code: codes.Unauthenticated},
		{name: "not yet valid", hdr: bearer(rs(jwttest.With(valid, "nbf", e.at(time.Hour)))), code: codes.Unauthenticated},
		{name: "issued in the future", hdr: bearer(rs(jwttest.With(valid, "iat", e.at(time.Hour)))), code: codes.Unauthenticated},
		{name: "no exp", hdr: bearer(rs(jwttest.With(valid, "exp", nil))), code: codes.Unauthenticated},
		{name: "wrong iss", hdr: bearer(rs(jwttest.With(valid, "iss", "https://evil.test"))), code: codes.Unauthenticated},
		{name: "no iss", hdr: bearer(rs(jwttest.With(valid, "iss", nil))), code: codes.Unauthenticated},
		{name: "wrong aud", hdr: bearer(rs(jwttest.With(valid, "aud", "billing"))), code: codes.Unauthenticated},
		{name: "no aud", hdr: bearer(rs(jwttest.With(valid, "aud", nil))), code: codes.Unauthenticated},
		{name: "missing required claim", hdr: bearer(rs(jwttest.With(valid, "tenant", nil))), code: codes.Unauthenticated},
		{name: "no subject", hdr: bearer(rs(jwttest.With(valid, "sub", nil))), code: codes.Unauthenticated},
		{name: "alg none", hdr: bearer(jwttest.Segment(map[string]any{"alg": "none", "typ": "JWT", "kid": "a"}) + "." + jwttest.Segment(valid) + "."), code: codes.Unauthenticated},
		{name: "alg NONE", hdr: bearer(jwttest.Segment(map[string]any{"alg": "NONE", "kid": "a"}) + "." + jwttest.Segment(valid) + "."), code: codes.Unauthenticated},
		{name: "HS256 with the RSA public key PEM as secret", hdr: bearer(jwttest.Sign(t, jwt.SigningMethodHS256, pubPEM, "a", valid)), code: codes.Unauthenticated},
		{name: "HS256 with the RSA modulus as secret", hdr: bearer(jwttest.Sign(t, jwt.SigningMethodHS256, k.rsaA.PublicKey.N.Bytes(), "a", valid)), code: codes.Unauthenticated},
		{name: "RS256 under the kid of an ES256 key", hdr: bearer(jwttest.Sign(t, jwt.SigningMethodRS256, k.rsaA, "ec", valid)), code: codes.Unauthenticated},
		{name: "signed by another key under a known kid", hdr: bearer(jwttest.Sign(t, jwt.SigningMethodRS256, k.rsaOther, "a", valid)), code: codes.Unauthenticated},
		{name: "tampered payload", hdr: bearer(tampered), code: codes.Unauthenticated},
		{name: "unknown kid", hdr: bearer(jwttest.Sign(t, jwt.SigningMethodRS256, k.rsaOther, "nope", valid)), code: codes.Unauthenticated},
		{name: "kid not a string", hdr: bearer(jwttest.Sign(t, jwt.SigningMethodRS256, k.rsaA, 7, valid)), code: codes.Unauthenticated},
		{name: "garbage", hdr: bearer("not-a-jwt"), code: codes.Unauthenticated},
		{name: "garbage with three parts", hdr: bearer("aaa.bbb.ccc"), code: codes.Unauthenticated},
		{name: "oversized", hdr: bearer(good + strings.Repeat("A", 9<<10)), code: codes.Unauthenticated},
		{name: "empty bearer", hdr: anHdr("Authorization", "Bearer "), code: codes.Unauthenticated},
		{name: "basic scheme", hdr: anHdr("Authorization", "Basic YWxpY2U6cHc="), code: codes.Unauthenticated},
		{name: "token without scheme", hdr: anHdr("Authorization", good), code: codes.Unauthenticated},
		{name: "token in the wrong header", hdr: anHdr("X-Token", good), code: codes.Unauthenticated},
		{name: "token in the wrong metadata header", hdr: anHdr("Grpc-Metadata-X-Token", good), code: codes.Unauthenticated},
		{name: "two authorization header lines", hdr: anHdr("Authorization", "Bearer "+good, "Authorization", "Bearer "+good), code: codes.Unauthenticated},
		{name: "two tokens on one authorization line", hdr: anHdr("Authorization", "Bearer "+good+", Bearer "+good), code: codes.Unauthenticated},
		{name: "Authorization and Grpc-Metadata-Authorization", hdr: anHdr("Authorization", "Bearer "+good, "Grpc-Metadata-Authorization", "Bearer "+good), code: codes.Unauthenticated},
		{name: "no credentials", hdr: http.Header{}, code: codes.Unauthenticated},
		{name: "public without credentials", path: anPublic, hdr: http.Header{}, code: codes.OK},
		{name: "public with a bad token", path: anPublic, hdr: bearer("garbage"), code: codes.Unauthenticated},
		{name: "missing scope", path: anWrite, hdr: bearer(good), code: codes.PermissionDenied},
		{name: "missing scope, additional binding", path: anWrite2, hdr: bearer(good), code: codes.PermissionDenied},
		{name: "scope held", path: anWrite, hdr: bearer(rs(jwttest.With(valid, "scope", "library.read library.write"))), code: codes.OK, subject: "alice"},
		{name: "scope held, additional binding", path: anWrite2, hdr: bearer(rs(jwttest.With(valid, "scope", "library.write"))), code: codes.OK, subject: "alice"},
		{name: "claim not met", path: anAdmin, hdr: bearer(good), code: codes.PermissionDenied},
		{name: "claim met", path: anAdmin, hdr: bearer(rs(jwttest.With(valid, "role", "admin"))), code: codes.OK, subject: "alice"},
		{name: "denied rule", path: anClosed, hdr: bearer(good), code: codes.PermissionDenied},
		{name: "default deny", path: anNoRule, hdr: bearer(good), code: codes.PermissionDenied},
		{name: "api key", hdr: anHdr("X-Api-Key", anAPIKey), code: codes.OK, subject: "ci"},
		{name: "api key as Grpc-Metadata-X-Api-Key", hdr: anHdr("Grpc-Metadata-X-Api-Key", anAPIKey), code: codes.OK, subject: "ci"},
		{name: "wrong api key", hdr: anHdr("X-Api-Key", "guess-guess"), code: codes.Unauthenticated},
		{name: "two api key header lines", hdr: anHdr("X-Api-Key", anAPIKey, "X-Api-Key", anAPIKey), code: codes.Unauthenticated},
		{name: "X-Api-Key and Grpc-Metadata-X-Api-Key", hdr: anHdr("X-Api-Key", anAPIKey, "Grpc-Metadata-X-Api-Key", anAPIKey), code: codes.Unauthenticated},
		{name: "api-key-only method with a token", path: anKeyOnly, hdr: bearer(good), code: codes.Unauthenticated},
		{name: "api-key-only method with a key", path: anKeyOnly, hdr: anHdr("X-Api-Key", anAPIKey), code: codes.OK, subject: "ci"},
	}
	for proto, c := range httpClients(t, "") {
		t.Run(proto, func(t *testing.T) {
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					t.Parallel()
					path := tc.path
					if path == "" {
						path = anGet
					}
					id := newTestID("authn")
					got, body, resp := e.anGET(t, c, path, id, tc.hdr)
					e.anCheck(t, proto, tc.hdr, id, tc.code, tc.subject, got, body, resp)
				})
			}
		})
	}
}

// TestAuthnRESTKeys runs the key set scenarios of the gRPC tests over
// REST, each step in order on one gateway: an unknown kid is refused until
// the JWKS endpoint serves the rotated key and min_refetch_interval has
// passed, then accepted after exactly one fetch; with the endpoint down
// the last good keys keep working while a refresh is attempted.
func TestAuthnRESTKeys(t *testing.T) {
	gatewaytest.CheckLeaks(t)
	e := startAuthnGateway(t, false)
	c := httpClients(t, "")["http1"]
	k := e.keys
	step := func(name string, tok string, code codes.Code, subject string) {
		t.Helper()
		hdr := anHdr("Authorization", "Bearer "+tok)
		id := newTestID("authn-keys")
		got, body, resp := e.anGET(t, c, anGet, id, hdr)
		e.anCheck(t, name, hdr, id, code, subject, got, body, resp)
	}
	fetches := func(name string, want int64, before int64) {
		t.Helper()
		if got := e.jwks.fetches.Load() - before; got != want {
			t.Fatalf("%s: %d JWKS fetches, want %d", name, got, want)
		}
	}

	before := e.jwks.fetches.Load()
	bob := jwttest.Sign(t, jwt.SigningMethodRS256, k.rsaB, "b", e.claims("bob"))
	step("unknown kid before rotation", bob, codes.Unauthenticated, "")
	fetches("unknown kid within min_refetch_interval of the start", 0, before)
	e.jwks.set(anJWKS(t, anJWK{"a", "", &k.rsaA.PublicKey}, anJWK{"b", "", &k.rsaB.PublicKey}))
	step("rotated within min_refetch_interval", bob, codes.Unauthenticated, "")
	fetches("rotated within min_refetch_interval", 0, before)
	e.advance(anBeyond)
	step("rotated key", bob, codes.OK, "bob")
	fetches("rotated key", 1, before)
	step("rotated key again", bob, codes.OK, "bob")
	fetches("rotated key again", 1, before)

	e.jwks.down.Store(true)
	e.advance(anDueStep) // refresh due, and min_refetch_interval passed
	before = e.jwks.fetches.Load()
	for i := range 3 {
		step(fmt.Sprintf("endpoint down, call %d", i), jwttest.Sign(t, jwt.SigningMethodRS256, k.rsaA, "a", e.claims("alice")), codes.OK, "alice")
		step(fmt.Sprintf("endpoint down, rotated key, call %d", i), bob, codes.OK, "bob")
	}
	deadline := time.Now().Add(20 * time.Second)
	for e.jwks.fetches.Load() == before && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if e.jwks.fetches.Load() == before {
		t.Fatal("no refresh attempted with the endpoint down")
	}
	// A kid still unknown is refused with the last good keys, not with
	// UNAVAILABLE: keys are loaded.
	e.advance(anBeyond)
	step("endpoint down, unknown kid", jwttest.Sign(t, jwt.SigningMethodRS256, k.rsaOther, "c", e.claims("carol")), codes.Unauthenticated, "")
}

// TestAuthnRESTNoKeysYet: with the JWKS endpoint down from the start, a
// token cannot be verified, and REST says 503 UNAVAILABLE (the gateway's
// problem), not 401; calls that need no token still work.
func TestAuthnRESTNoKeysYet(t *testing.T) {
	gatewaytest.CheckLeaks(t)
	e := startAuthnGateway(t, true)
	c := httpClients(t, "")["http1"]
	tok := jwttest.Sign(t, jwt.SigningMethodRS256, e.keys.rsaA, "a", e.claims("alice"))
	for _, tc := range []struct {
		name string
		path string
		hdr  http.Header
		code codes.Code
	}{
		{"valid token", anGet, anHdr("Authorization", "Bearer "+tok), codes.Unavailable},
		{"valid token after min_refetch_interval", anGet, anHdr("Authorization", "Bearer "+tok), codes.Unavailable},
		{"no credentials", anGet, http.Header{}, codes.Unauthenticated},
		{"public without credentials", anPublic, http.Header{}, codes.OK},
		{"api key", anGet, anHdr("X-Api-Key", anAPIKey), codes.OK},
	} {
		id := newTestID("authn-nokeys")
		got, body, resp := e.anGET(t, c, tc.path, id, tc.hdr)
		e.anCheck(t, tc.name, tc.hdr, id, tc.code, "", got, body, resp)
		e.advance(anBeyond)
	}
	if e.jwks.fetches.Load() < 2 {
		t.Errorf("%d JWKS fetches, want the start's and at least one retry", e.jwks.fetches.Load())
	}
}

// TestAuthnRESTUnknownKidFlood: a flood of REST calls with made-up kids
// costs at most one JWKS fetch per min_refetch_interval.
func TestAuthnRESTUnknownKidFlood(t *testing.T) {
	gatewaytest.CheckLeaks(t)
	e := startAuthnGateway(t, false)
	c := httpClients(t, "")["h2c"]
	e.advance(anBeyond) // past the start's fetch
	before := e.jwks.fetches.Load()
	flood := func(round int) {
		toks := make([]string, anFlood)
		for i := range toks {
			toks[i] = jwttest.Sign(t, jwt.SigningMethodRS256, e.keys.rsaOther, fmt.Sprintf("made-up-%d-%d", round, i), e.claims("x"))
		}
		var wg sync.WaitGroup
		for _, tok := range toks {
			wg.Go(func() {
				// Not restCall: t.Fatal may not be called off the test's
				// goroutine.
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.base+anGet, nil)
				if err != nil {
					t.Error(err)
					return
				}
				req.Header.Set("Authorization", "Bearer "+tok)
				resp, err := c.Do(req)
				if err != nil {
					t.Errorf("made-up kid: %v", err)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
				if resp.StatusCode != http.StatusUnauthorized {
					t.Errorf("made-up kid: %d, want 401", resp.StatusCode)
				}
			})
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
	e.advance(anBeyond)
	flood(3)
	if got := e.jwks.fetches.Load() - before; got != 2 {
		t.Fatalf("fetches after the next interval = %d, want 2", got)
	}
}
