package policy

import (
	"fmt"
	"time"

	"github.com/sluice-dev/sluice/config"
	"github.com/sluice-dev/sluice/interceptors/authn"
	"github.com/sluice-dev/sluice/interceptors/authz"
	"github.com/sluice-dev/sluice/interceptors/identity"
)

// Authorizer compiles the authorization rules of a validated
// configuration: the decisions of the chain, for those that need them
// without a call (the OpenAPI document, `sluice validate`'s lint).
func Authorizer(a config.Authz) (*authz.Policy, error) {
	rules := make([]authz.Rule, len(a.Rules))
	for i, r := range a.Rules {
		rules[i] = authz.Rule{
			Methods:   r.Methods,
			Access:    authz.Access(r.Access),
			Providers: r.Providers,
			Scopes:    r.Scopes,
			Claims:    r.Claims,
		}
	}
	p, err := authz.New(authz.WithDefault(authz.Access(a.Default)), authz.WithRules(rules...))
	if err != nil {
		return nil, fmt.Errorf("policy.authz: %w", err)
	}
	return p, nil
}

// authnOptions turns policy.authn into the authenticator's providers.
func authnOptions(a *config.Authn) []authn.Option {
	var opts []authn.Option
	if j := a.JWT; j.Configured() {
		opts = append(opts, authn.WithJWT(authn.JWT{
			JWKSURL:         j.JWKSURL,
			JWKSFile:        j.JWKSFile,
			RefreshInterval: time.Duration(j.RefreshInterval),
			MinRefetch:      time.Duration(j.MinRefetch),
			FetchTimeout:    time.Duration(j.FetchTimeout),
			Issuer:          j.Issuer,
			Audiences:       j.Audiences,
			Leeway:          time.Duration(j.Leeway),
			Algorithms:      j.Algorithms,
			RequiredClaims:  j.RequiredClaims,
			SubjectClaim:    j.SubjectClaim,
			ScopeClaim:      j.ScopeClaim,
			MaxTokenSize:    int(j.MaxTokenSize),
		}))
	}
	if len(a.APIKeys.Keys) > 0 {
		keys := make([]authn.APIKey, len(a.APIKeys.Keys))
		for i, k := range a.APIKeys.Keys {
			keys[i] = authn.APIKey{Name: k.Name, Hash: k.Hash, Scopes: k.Scopes}
		}
		opts = append(opts, authn.WithAPIKeys(a.APIKeys.Header, keys...))
	}
	if a.MTLS.Enabled {
		opts = append(opts, authn.WithMTLS(authn.MTLSSubject(a.MTLS.Subject)))
	}
	return opts
}

// propagator turns policy.identity into the identity propagator.
func propagator(id *config.Identity) (*identity.Propagator, error) {
	claims := make([]identity.ClaimKey, len(id.Claims))
	for i, c := range id.Claims {
		claims[i] = identity.ClaimKey{Claim: c.Claim, Key: c.Key}
	}
	p, err := identity.NewPropagator(
		identity.WithSubjectKey(id.SubjectKey),
		identity.WithProviderKey(id.ProviderKey),
		identity.WithScopesKey(id.ScopesKey),
		identity.WithClaimKeys(claims...),
		identity.WithStrip(id.Strip...))
	if err != nil {
		return nil, fmt.Errorf("policy.identity: %w", err)
	}
	return p, nil
}
