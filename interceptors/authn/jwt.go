package authn

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/golang-jwt/jwt/v5"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/sluice-dev/sluice/interceptors/identity"
)

// JWT configures the jwt provider. Every field but JWKSURL, JWKSFile,
// Algorithms and RequiredClaims is required: the configuration's defaults
// (policy.authn.jwt) are sensible values.
type JWT struct {
	// JWKSURL (http or https) or JWKSFile is where the JSON Web Key Set
	// comes from; one of them is needed unless WithKeySource gives it.
	JWKSURL  string
	JWKSFile string
	// RefreshInterval is the age at which the key set is fetched again in
	// the background; MinRefetch spaces the fetches an unknown key id
	// triggers; FetchTimeout bounds each fetch.
	RefreshInterval time.Duration
	MinRefetch      time.Duration
	FetchTimeout    time.Duration
	// Issuer is the required iss; a token must name one of Audiences.
	Issuer    string
	Audiences []string
	// Leeway is the clock skew allowed for exp, nbf and iat.
	Leeway time.Duration
	// Algorithms accepted; empty accepts every one of JWTAlgorithms.
	Algorithms []string
	// RequiredClaims every token must carry, besides exp, iss and aud.
	RequiredClaims []string
	// SubjectClaim holds the subject, ScopeClaim the scopes (a
	// space-separated string or a list of strings).
	SubjectClaim string
	ScopeClaim   string
	// MaxTokenSize is the longest token accepted, in bytes.
	MaxTokenSize int
}

// JWTAlgorithms returns the asymmetric JWS algorithms sluice can verify,
// what an empty JWT.Algorithms accepts. "none" and HMAC are never among
// them: a gateway holding a shared secret could mint tokens itself.
func JWTAlgorithms() []string {
	return []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
}

// check reports the first problem of c; keySource says whether
// WithKeySource stands in for JWKSURL and JWKSFile.
func (c *JWT) check(keySource bool) error {
	switch {
	case c.JWKSURL == "" && c.JWKSFile == "" && !keySource:
		return errors.New("no key set: set JWKSURL or JWKSFile")
	case c.JWKSURL != "" && c.JWKSFile != "":
		return errors.New("JWKSURL and JWKSFile are both set: set one key source")
	case c.RefreshInterval <= 0 || c.MinRefetch <= 0 || c.FetchTimeout <= 0:
		return errors.New("refresh interval, minimum refetch interval and fetch timeout must be positive")
	case c.Leeway < 0:
		return errors.New("leeway must not be negative")
	case c.Issuer == "":
		return errors.New("no issuer: tokens from any issuer sharing the keys would be accepted")
	case len(c.Audiences) == 0 || slices.Contains(c.Audiences, ""):
		return errors.New("audiences must list at least one audience, none empty")
	case c.SubjectClaim == "" || c.ScopeClaim == "":
		return errors.New("subject and scope claims must be named")
	case c.MaxTokenSize <= 0:
		return errors.New("maximum token size must be positive")
	case slices.Contains(c.RequiredClaims, ""):
		return errors.New("a required claim is empty")
	}
	for _, alg := range c.Algorithms {
		if !slices.Contains(JWTAlgorithms(), alg) {
			return fmt.Errorf("algorithm %q: want one of %s", alg, strings.Join(JWTAlgorithms(), ", "))
		}
	}
	return nil
}

// jwtProvider verifies "authorization: Bearer <JWT>" credentials with
// golang-jwt, against keys from a keyCache.
type jwtProvider struct {
	cfg    JWT
	keys   *keyCache
	parser *jwt.Parser
}

func newJWTProvider(cfg JWT, keys *keyCache, now func() time.Time) *jwtProvider {
	algs := cfg.Algorithms
	if len(algs) == 0 {
		algs = JWTAlgorithms()
	}
	opts := []jwt.ParserOption{
		jwt.WithValidMethods(algs),
		jwt.WithLeeway(cfg.Leeway),
		jwt.WithTimeFunc(now),
		jwt.WithIssuedAt(),
		jwt.WithExpirationRequired(),
		jwt.WithIssuer(cfg.Issuer),
		jwt.WithAudience(cfg.Audiences...),
	}
	return &jwtProvider{cfg: cfg, keys: keys, parser: jwt.NewParser(opts...)}
}

func (p *jwtProvider) name() string { return identity.ProviderJWT }

func (p *jwtProvider) present(ctx context.Context, md metadata.MD) bool {
	return len(md.Get("authorization")) > 0
}

func (p *jwtProvider) authenticate(ctx context.Context, md metadata.MD) (*identity.Identity, error) {
	vals := md.Get("authorization")
	if len(vals) != 1 {
		return nil, unauthenticated("more than one authorization value")
	}
	scheme, raw, ok := strings.Cut(vals[0], " ")
	if !ok || !strings.EqualFold(scheme, "bearer") {
		return nil, unauthenticated("authorization must use the Bearer scheme")
	}
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return nil, unauthenticated("empty bearer token")
	}
	if len(raw) > p.cfg.MaxTokenSize {
		return nil, unauthenticated(fmt.Sprintf("bearer token longer than %d bytes", p.cfg.MaxTokenSize))
	}
	claims := jwt.MapClaims{}
	var unavailable error
	_, err := p.parser.ParseWithClaims(raw, claims, func(t *jwt.Token) (any, error) {
		key, err := p.key(ctx, t)
		if errors.Is(err, errNoKeys) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			unavailable = err
		}
		return key, err
	})
	if unavailable != nil {
		if errors.Is(unavailable, errNoKeys) {
			return nil, status.Error(codes.Unavailable, "token signing keys are not available yet")
		}
		return nil, status.FromContextError(unavailable).Err()
	}
	if err != nil {
		return nil, unauthenticated(tokenProblem(err))
	}
	for _, c := range p.cfg.RequiredClaims {
		if v, ok := claims[c]; !ok || v == nil {
			return nil, unauthenticated(fmt.Sprintf("token lacks required claim %q", c))
		}
	}
	sub, _ := claims[p.cfg.SubjectClaim].(string)
	if sub == "" {
		return nil, unauthenticated(fmt.Sprintf("token has no %q claim naming the subject", p.cfg.SubjectClaim))
	}
	scopes, ok := scopesOf(claims[p.cfg.ScopeClaim])
	if !ok {
		return nil, unauthenticated(fmt.Sprintf("token %q claim holds a scope with whitespace or control characters", p.cfg.ScopeClaim))
	}
	return &identity.Identity{
		Subject:  sub,
		Provider: identity.ProviderJWT,
		Scopes:   scopes,
		Claims:   map[string]any(claims),
	}, nil
}

var (
	errNoKeys      = errors.New("no signing keys loaded")
	errUnknownKey  = errors.New("token names an unknown signing key")
	errKeyMismatch = errors.New("token algorithm does not fit its signing key")
	errKIDType     = errors.New("token kid is not a string")
	errCritBad     = errors.New("token crit header is malformed")
	errCritUnknown = errors.New("token crit header names extensions sluice does not support")
)

// registeredHeaders are the header parameters RFC 7515 and RFC 7518
// define for JWS; "crit" must not list them.
var registeredHeaders = map[string]bool{
	"alg": true, "jku": true, "jwk": true, "kid": true, "x5u": true, "x5c": true,
	"x5t": true, "x5t#S256": true, "typ": true, "cty": true, "crit": true,
}

// checkCrit applies RFC 7515 section 4.1.11: a token whose "crit" header
// lists extensions the recipient does not understand must be rejected, as
// must a malformed one (not a list of strings, empty, with duplicates, or
// naming a registered header). sluice understands no extension, so a
// well-formed crit is refused too: the issuer said the token must not be
// accepted by a recipient that ignores those parameters.
func checkCrit(h map[string]any) error {
	v, ok := h["crit"]
	if !ok {
		return nil
	}
	list, ok := v.([]any)
	if !ok || len(list) == 0 {
		return errCritBad
	}
	seen := make(map[string]bool, len(list))
	for _, e := range list {
		name, ok := e.(string)
		if !ok || name == "" || registeredHeaders[name] || seen[name] {
			return errCritBad
		}
		seen[name] = true
	}
	return errCritUnknown
}

// key finds the verification key of t: by kid, re-fetching the key set
// (rate-limited, shared) when the kid is unknown. The algorithm must fit
// the key's type, so an attacker cannot choose how a key is used.
func (p *jwtProvider) key(ctx context.Context, t *jwt.Token) (any, error) {
	// Before any key lookup: a token refused for its header must not cost
	// a key set re-fetch.
	if err := checkCrit(t.Header); err != nil {
		return nil, err
	}
	kid := ""
	if v, ok := t.Header["kid"]; ok {
		s, ok := v.(string)
		if !ok {
			return nil, errKIDType
		}
		kid = s
	}
	alg := t.Method.Alg()
	ks := p.keys.current()
	if ks == nil || (kid != "" && !ks.hasKID(kid)) {
		var err error
		if ks, err = p.keys.refetch(ctx); err != nil {
			return nil, err
		}
	}
	if ks == nil {
		return nil, errNoKeys
	}
	if kid != "" && !ks.hasKID(kid) {
		return nil, errUnknownKey
	}
	cands := ks.candidates(kid, alg)
	switch len(cands) {
	case 0:
		return nil, errKeyMismatch
	case 1:
		return cands[0].pub, nil
	}
	set := jwt.VerificationKeySet{}
	for _, k := range cands {
		set.Keys = append(set.Keys, k.pub)
	}
	return set, nil
}

// tokenProblem says what was wrong with a token without quoting it.
func tokenProblem(err error) string {
	switch {
	case errors.Is(err, errUnknownKey):
		return errUnknownKey.Error()
	case errors.Is(err, errKeyMismatch):
		return errKeyMismatch.Error()
	case errors.Is(err, errKIDType):
		return errKIDType.Error()
	case errors.Is(err, errCritBad):
		return errCritBad.Error()
	case errors.Is(err, errCritUnknown):
		return errCritUnknown.Error()
	case errors.Is(err, jwt.ErrTokenMalformed):
		return "malformed token"
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return "token signature or algorithm is not accepted"
	case errors.Is(err, jwt.ErrTokenExpired):
		return "token has expired"
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		return "token is not valid yet"
	case errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return "token is issued in the future"
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return "token issuer is not accepted"
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return "token audience is not accepted"
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return "token lacks a required claim (exp, iss or aud)"
	case errors.Is(err, jwt.ErrTokenInvalidClaims):
		return "token claims are invalid"
	case errors.Is(err, jwt.ErrTokenUnverifiable):
		return "token cannot be verified"
	}
	return "invalid token"
}

// scopesOf reads scopes from a space-separated string or a list of
// strings. It reports false when a list element holds whitespace or a
// control character: that is not a scope (RFC 6749 section 3.3), no
// authorization rule can name it, and upstreams, which receive scopes
// space-separated, would read it as several scopes the gateway never
// granted. Refusing the token is the one unambiguous answer.
func scopesOf(v any) ([]string, bool) {
	switch v := v.(type) {
	case string:
		return strings.Fields(v), true
	case []any:
		out := make([]string, 0, len(v))
		for _, e := range v {
			s, ok := e.(string)
			if !ok || s == "" {
				continue
			}
			if strings.ContainsFunc(s, notInScope) {
				return nil, false
			}
			out = append(out, s)
		}
		return out, true
	}
	return nil, true
}

// notInScope reports whether r may not appear in a scope.
func notInScope(r rune) bool { return r <= ' ' || r == 0x7f || unicode.IsSpace(r) }
