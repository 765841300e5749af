// Package identity holds who a caller is once authentication verified it,
// and passes that identity on to upstreams as request metadata.
//
// interceptors/authn puts an *Identity into the call's context; authz,
// rate limiting and logging read it with FromContext. The Propagator
// interceptor rewrites the metadata the proxy forwards: it removes every
// client-supplied value of the identity keys and of the credentials
// upstreams should not see, then sets the verified values. Because REST
// headers and Grpc-Metadata- headers arrive as metadata too, one rewrite
// covers every protocol.
//
// Scopes go upstream as one value, space-separated, as OAuth 2.0 writes
// them. A scope that holds whitespace (possible in a token's list-form
// scope claim) could not be told apart from several scopes, and upstreams
// would see scopes the gateway never granted: interceptors/authn refuses
// such tokens, and the Propagator never sends such a scope.
package identity

import (
	"context"
	"slices"
	"strings"
)

// The names of interceptors/authn's providers, as Identity.Provider holds
// them and authorization rules name them.
const (
	ProviderJWT    = "jwt"
	ProviderAPIKey = "api_key"
	ProviderMTLS   = "mtls"
)

// Identity is a verified caller. It is immutable once in a context: readers
// must not modify it.
type Identity struct {
	// Subject names the caller: the token's subject, the API key's name or
	// the certificate's chosen field.
	Subject string
	// Provider is the provider that verified the caller: ProviderJWT,
	// ProviderAPIKey or ProviderMTLS for interceptors/authn's.
	Provider string
	// Scopes the caller holds, none empty or holding whitespace (the
	// Propagator leaves such scopes out).
	Scopes []string
	// Claims of the caller: a token's claims (JSON values as decoded by
	// encoding/json), or certificate fields for mTLS. Never nil.
	Claims map[string]any
}

// HasScope reports whether the identity holds scope s.
func (id *Identity) HasScope(s string) bool { return slices.Contains(id.Scopes, s) }

// Claim returns the claim called name: the top-level claim of that name
// or, when there is none and name contains dots, the value at that path
// through nested objects ("realm_access.roles").
func (id *Identity) Claim(name string) (any, bool) {
	if v, ok := id.Claims[name]; ok {
		return v, true
	}
	if !strings.Contains(name, ".") {
		return nil, false
	}
	var cur any = id.Claims
	for part := range strings.SplitSeq(name, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[part]; !ok {
			return nil, false
		}
	}
	return cur, true
}

type ctxKey struct{}

// NewContext returns ctx carrying id.
func NewContext(ctx context.Context, id *Identity) context.Context {
	return context.WithValue(ctx, ctxKey{}, id)
}

// FromContext returns the identity in ctx, or false for an anonymous call
// (or one that did not pass authentication).
func FromContext(ctx context.Context) (*Identity, bool) {
	id, ok := ctx.Value(ctxKey{}).(*Identity)
	return id, ok && id != nil
}
