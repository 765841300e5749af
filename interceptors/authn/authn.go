package authn

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/sluice-dev/sluice/interceptors/identity"
)

// ChallengeKey is the response header metadata key that carries the
// WWW-Authenticate challenges of an UNAUTHENTICATED refusal. The REST and
// gRPC-Web writers turn it into the HTTP WWW-Authenticate header of the
// 401; gRPC clients see it as header metadata.
const ChallengeKey = "www-authenticate"

// Realm is the realm named in challenges.
const Realm = "sluice"

// MethodPolicy tells the authenticator, per method, which providers it
// accepts (in order of preference; nil for every configured one) and
// whether it may be called without credentials. *authz.Policy implements
// it, so that one rule decides both.
type MethodPolicy interface {
	Accepts(fullMethod string) (providers []string, anonymous bool)
}

// MethodPolicyFunc adapts a function to MethodPolicy.
type MethodPolicyFunc func(fullMethod string) ([]string, bool)

// Accepts calls f.
func (f MethodPolicyFunc) Accepts(m string) ([]string, bool) { return f(m) }

// Option configures an Authenticator.
type Option interface{ apply(*options) }

type optionFunc func(*options)

func (f optionFunc) apply(o *options) { f(o) }

type options struct {
	methods   MethodPolicy
	client    *http.Client
	now       func() time.Time
	logger    *slog.Logger
	keySource KeySource
	jwt       *JWT
	apiKeys   *apiKeys
	mtls      *MTLSSubject
}

// apiKeys is what WithAPIKeys sets.
type apiKeys struct {
	header string
	keys   []APIKey
}

// WithJWT configures the jwt provider: bearer tokens verified against the
// key set cfg names (or WithKeySource's).
func WithJWT(cfg JWT) Option {
	return optionFunc(func(o *options) { o.jwt = &cfg })
}

// WithAPIKeys configures the api_key provider: keys sent in the metadata
// key header (REST: the HTTP header), checked against the keys' hashes.
// At least one key is needed; names and hashes are unique.
func WithAPIKeys(header string, keys ...APIKey) Option {
	return optionFunc(func(o *options) { o.apiKeys = &apiKeys{header: header, keys: keys} })
}

// WithMTLS configures the mtls provider: the client certificate the
// listener verified, whose subject field names the caller.
func WithMTLS(subject MTLSSubject) Option {
	return optionFunc(func(o *options) { o.mtls = &subject })
}

// WithMethodPolicy sets which providers each method accepts and whether it
// admits anonymous callers. Without it every configured provider is
// accepted and credentials are optional, leaving refusals to authz.
func WithMethodPolicy(p MethodPolicy) Option {
	return optionFunc(func(o *options) { o.methods = p })
}

// WithHTTPClient sets the client that fetches jwks_url; the default has
// no timeout of its own (fetch_timeout bounds each fetch).
func WithHTTPClient(c *http.Client) Option {
	return optionFunc(func(o *options) { o.client = c })
}

// WithClock replaces time.Now for token validity and key refresh, for
// tests.
func WithClock(now func() time.Time) Option {
	return optionFunc(func(o *options) { o.now = now })
}

// WithLogger sets where key set fetch failures are logged.
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(o *options) { o.logger = l })
}

// WithKeySource replaces JWT.JWKSURL and JWT.JWKSFile as the source of the
// key set, for example to serve the demo key set from memory. The jwt
// provider must still be configured with WithJWT.
func WithKeySource(s KeySource) Option {
	return optionFunc(func(o *options) { o.keySource = s })
}

// provider verifies one kind of credential.
type provider interface {
	name() string
	// present reports whether the call carries this kind of credential.
	present(ctx context.Context, md metadata.MD) bool
	// authenticate verifies it; errors are UNAUTHENTICATED statuses (or
	// UNAVAILABLE when keys cannot be had).
	authenticate(ctx context.Context, md metadata.MD) (*identity.Identity, error)
}

// Authenticator verifies the credentials of each call and puts the
// resulting identity in its context. It is safe for concurrent use; Close
// stops its background key refreshes.
type Authenticator struct {
	providers []provider // in configuration order: jwt, api_key, mtls
	methods   MethodPolicy
	keys      *keyCache // nil without JWT
	apiHeader string
}

// New builds an Authenticator with the providers the options configure,
// tried in the order jwt, api_key, mtls; with none it finds no identity
// in any call. Each provider's settings are checked first. With JWT
// configured it loads the key set once before returning: a JWKS file that
// cannot be loaded is an error, an unreachable URL is not (the keys are
// fetched again when calls need them).
func New(opts ...Option) (*Authenticator, error) {
	o := &options{client: http.DefaultClient, now: time.Now}
	for _, opt := range opts {
		opt.apply(o)
	}
	if o.logger == nil {
		o.logger = slog.New(slog.DiscardHandler)
	}
	if err := o.check(); err != nil {
		return nil, fmt.Errorf("authn: %w", err)
	}
	a := &Authenticator{methods: o.methods}
	if c := o.jwt; c != nil {
		src := o.keySource
		switch {
		case src != nil:
		case c.JWKSURL != "":
			src = urlSource(o.client, c.JWKSURL)
		default:
			src = fileSource(c.JWKSFile)
		}
		a.keys = newKeyCache(src, c.RefreshInterval, c.MinRefetch, c.FetchTimeout, o.now, o.logger)
		if err := a.keys.load(); err != nil {
			if c.JWKSFile != "" && o.keySource == nil {
				a.keys.close()
				return nil, fmt.Errorf("authn: jwks_file %s: %w", c.JWKSFile, err)
			}
			o.logger.Warn("jwks not loaded at start; retrying when calls need it", "error", err)
		}
		a.providers = append(a.providers, newJWTProvider(*c, a.keys, o.now))
	}
	if k := o.apiKeys; k != nil {
		a.apiHeader = k.header
		a.providers = append(a.providers, newAPIKeyProvider(k.header, k.keys))
	}
	if o.mtls != nil {
		a.providers = append(a.providers, &mtlsProvider{subject: *o.mtls})
	}
	return a, nil
}

// check reports the first problem of the providers' settings.
func (o *options) check() error {
	if o.jwt != nil {
		if err := o.jwt.check(o.keySource != nil); err != nil {
			return fmt.Errorf("jwt: %w", err)
		}
	}
	if o.apiKeys != nil {
		if err := checkAPIKeys(o.apiKeys.header, o.apiKeys.keys); err != nil {
			return fmt.Errorf("api keys: %w", err)
		}
	}
	if o.mtls != nil && !o.mtls.valid() {
		return fmt.Errorf("mtls: subject %q: want one of %s", *o.mtls, strings.Join(mtlsSubjects(), ", "))
	}
	return nil
}

// Close stops background key set fetches and waits for them. Calls after
// Close still work with the keys loaded so far.
func (a *Authenticator) Close() {
	if a.keys != nil {
		a.keys.close()
	}
}

// Providers returns the names of the configured providers, in the order
// they are tried when a method accepts them all.
func (a *Authenticator) Providers() []string {
	names := make([]string, len(a.providers))
	for i, p := range a.providers {
		names[i] = p.name()
	}
	return names
}

// Authenticate verifies the credentials ctx's call carries for fullMethod.
// It returns the identity, nil with a nil error for a call without
// credentials that the method allows, or an UNAUTHENTICATED status. The
// first accepted provider whose credentials are present decides; a
// credential the method does not accept is ignored.
func (a *Authenticator) Authenticate(ctx context.Context, fullMethod string) (*identity.Identity, error) {
	accepted, anonymous := a.accepts(fullMethod)
	md, _ := metadata.FromIncomingContext(ctx)
	for _, p := range accepted {
		if !p.present(ctx, md) {
			continue
		}
		id, err := p.authenticate(ctx, md)
		if err != nil {
			if status.Code(err) == codes.Unauthenticated {
				a.challenge(ctx, accepted, p.name(), status.Convert(err).Message())
			}
			return nil, err
		}
		return id, nil
	}
	if anonymous {
		return nil, nil
	}
	a.challenge(ctx, accepted, "", "")
	if len(accepted) == 0 {
		return nil, status.Errorf(codes.Unauthenticated, "method %s accepts no configured credentials", fullMethod)
	}
	return nil, status.Errorf(codes.Unauthenticated, "credentials required: %s", a.describe(accepted))
}

// StreamServerInterceptor returns the interceptor. It belongs after
// recovery and logging and before authorization.
func (a *Authenticator) StreamServerInterceptor() grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		ctx := ss.Context()
		id, err := a.Authenticate(ctx, info.FullMethod)
		if err != nil {
			return err
		}
		if id == nil {
			return handler(srv, ss)
		}
		return handler(srv, &stream{ServerStream: ss, ctx: identity.NewContext(ctx, id)})
	}
}

func (a *Authenticator) accepts(fullMethod string) ([]provider, bool) {
	if a.methods == nil {
		return a.providers, true
	}
	names, anonymous := a.methods.Accepts(fullMethod)
	if names == nil {
		return a.providers, anonymous
	}
	var out []provider
	for _, n := range names {
		if i := slices.IndexFunc(a.providers, func(p provider) bool { return p.name() == n }); i >= 0 {
			out = append(out, a.providers[i])
		}
	}
	return out, anonymous
}

// describe names the credentials accepted, for messages.
func (a *Authenticator) describe(ps []provider) string {
	var parts []string
	for _, p := range ps {
		switch p.name() {
		case identity.ProviderJWT:
			parts = append(parts, "a bearer token (authorization: Bearer ...)")
		case identity.ProviderAPIKey:
			parts = append(parts, "an API key ("+a.apiHeader+")")
		case identity.ProviderMTLS:
			parts = append(parts, "a verified client certificate")
		}
	}
	return "send " + strings.Join(parts, " or ")
}

// challenge sets the WWW-Authenticate challenges (RFC 6750 for bearer
// tokens) as response header metadata. problem is the refusal's message,
// empty when no credential was sent; it never contains the credential.
func (a *Authenticator) challenge(ctx context.Context, ps []provider, failed, problem string) {
	var vals []string
	for _, p := range ps {
		switch p.name() {
		case identity.ProviderJWT:
			v := `Bearer realm="` + Realm + `"`
			// RFC 6750 3.1: invalid_token only when a bearer token was
			// sent and refused, not when another credential failed.
			if problem != "" && failed == identity.ProviderJWT {
				v += `, error="invalid_token", error_description="` + strings.ReplaceAll(problem, `"`, `'`) + `"`
			}
			vals = append(vals, v)
		case identity.ProviderAPIKey:
			vals = append(vals, `APIKey realm="`+Realm+`", header="`+a.apiHeader+`"`)
		}
	}
	if len(vals) == 0 {
		return
	}
	// No transport stream (an adapter that set none) means nowhere to put
	// the header; the status still says what is wrong.
	_ = grpc.SetHeader(ctx, metadata.MD{ChallengeKey: vals})
}

func unauthenticated(problem string) error {
	return status.Error(codes.Unauthenticated, problem)
}

// stream carries the identity in the stream's context.
type stream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *stream) Context() context.Context { return s.ctx }
