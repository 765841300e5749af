package identity

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
)

// grpcMetadataPrefix is what grpc-gateway style REST adapters put before
// header names that are meant as gRPC metadata ("Grpc-Metadata-X-Foo" is
// "x-foo"). Values under it are removed too, whichever way an adapter
// passes them on.
const grpcMetadataPrefix = "grpc-metadata-"

// Propagator rewrites the request metadata of each call: client-supplied
// identity keys and stripped credentials out, the verified identity in. It
// is immutable and safe for concurrent use.
type Propagator struct {
	keys   keys
	remove []string // keys removed from every call, identity keys first
}

// keys are the metadata keys a Propagator sets; empty ones are not set.
type keys struct {
	subject, provider, scopes string
	claims                    []ClaimKey
	strip                     []string
}

// ClaimKey passes one claim of the identity upstream under a metadata key.
// Claim may be a dotted path into nested objects (see Identity.Claim).
type ClaimKey struct {
	Claim string
	Key   string
}

// Option configures a Propagator.
type Option interface{ apply(*keys) }

type optionFunc func(*keys)

func (f optionFunc) apply(k *keys) { f(k) }

// WithSubjectKey sends the identity's subject upstream under key.
func WithSubjectKey(key string) Option { return optionFunc(func(k *keys) { k.subject = key }) }

// WithProviderKey sends the name of the provider that verified the caller
// upstream under key.
func WithProviderKey(key string) Option { return optionFunc(func(k *keys) { k.provider = key }) }

// WithScopesKey sends the identity's scopes upstream under key, as one
// space-separated value.
func WithScopesKey(key string) Option { return optionFunc(func(k *keys) { k.scopes = key }) }

// WithClaimKeys sends claims upstream, each under its own key: strings as
// they are, lists as repeated values, other values as JSON. Repeated
// options add up.
func WithClaimKeys(claims ...ClaimKey) Option {
	return optionFunc(func(k *keys) { k.claims = append(k.claims, claims...) })
}

// WithStrip removes these request metadata keys from every call, typically
// the credentials upstreams should not see. Repeated options add up.
func WithStrip(names ...string) Option {
	return optionFunc(func(k *keys) { k.strip = append(k.strip, names...) })
}

// NewPropagator returns a Propagator that sets the keys the options name
// (none by default) and removes client-supplied values of them and of the
// stripped keys. Every key must pass ValidMetadataKey; a key may carry one
// thing only, never authorization, and is not both set and stripped.
func NewPropagator(opts ...Option) (*Propagator, error) {
	var k keys
	for _, o := range opts {
		o.apply(&k)
	}
	p := &Propagator{keys: k}
	set := map[string]bool{}
	for _, key := range k.set() {
		if err := ValidMetadataKey(key); err != nil {
			return nil, fmt.Errorf("identity: %w", err)
		}
		if key == "authorization" {
			return nil, errors.New("identity: authorization carries credentials; it cannot carry the identity")
		}
		if set[key] {
			return nil, fmt.Errorf("identity: metadata key %q is set twice", key)
		}
		set[key] = true
		p.remove = append(p.remove, key)
	}
	for _, c := range k.claims {
		if c.Claim == "" {
			return nil, fmt.Errorf("identity: claim of metadata key %q is empty", c.Key)
		}
	}
	for _, key := range k.strip {
		if err := ValidMetadataKey(key); err != nil {
			return nil, fmt.Errorf("identity: strip: %w", err)
		}
		if set[key] {
			return nil, fmt.Errorf("identity: metadata key %q is both set and stripped", key)
		}
		p.remove = append(p.remove, key)
	}
	return p, nil
}

// set lists the keys that carry the identity, in the order of Keys.
func (k *keys) set() []string {
	var out []string
	for _, key := range []string{k.subject, k.provider, k.scopes} {
		if key != "" {
			out = append(out, key)
		}
	}
	for _, c := range k.claims {
		out = append(out, c.Key)
	}
	return out
}

// StreamServerInterceptor returns the interceptor. It belongs after
// authorization, so that it sees the identity the call was allowed with,
// and before the proxy. Authentication must run before it: it reads the
// credentials this removes.
func (p *Propagator) StreamServerInterceptor() grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		ctx := ss.Context()
		id, _ := FromContext(ctx)
		if id == nil && !p.carriesRemoved(ctx) {
			// An anonymous call with nothing to strip goes on as it
			// is: no copy of its metadata.
			return handler(srv, ss)
		}
		md := p.Rewrite(ctx, id)
		return handler(srv, &stream{ServerStream: ss, ctx: metadata.NewIncomingContext(ctx, md)})
	}
}

// Rewrite returns a copy of ctx's incoming metadata with every removed key
// gone (also under the Grpc-Metadata- prefix) and id's values set; id may
// be nil for an anonymous call.
func (p *Propagator) Rewrite(ctx context.Context, id *Identity) metadata.MD {
	md, _ := metadata.FromIncomingContext(ctx) // a copy
	if md == nil {
		md = metadata.MD{}
	}
	for _, k := range p.remove {
		delete(md, k)
		delete(md, grpcMetadataPrefix+k)
	}
	if id == nil {
		return md
	}
	set := func(k string, vs ...string) {
		if k == "" || len(vs) == 0 {
			return
		}
		out := make([]string, len(vs))
		for i, v := range vs {
			out[i] = escape(v)
		}
		md[k] = out
	}
	set(p.keys.subject, id.Subject)
	set(p.keys.provider, id.Provider)
	if scopes := sendable(id.Scopes); len(scopes) > 0 {
		set(p.keys.scopes, strings.Join(scopes, " "))
	}
	for _, c := range p.keys.claims {
		if v, ok := id.Claim(c.Claim); ok {
			set(c.Key, claimValues(v)...)
		}
	}
	return md
}

// carriesRemoved reports whether ctx's incoming metadata holds a key
// Rewrite removes, without copying the metadata.
func (p *Propagator) carriesRemoved(ctx context.Context) bool {
	for _, k := range p.remove {
		if len(metadata.ValueFromIncomingContext(ctx, k)) > 0 || len(metadata.ValueFromIncomingContext(ctx, grpcMetadataPrefix+k)) > 0 {
			return true
		}
	}
	return false
}

// sendable returns the scopes that can be sent space-separated without
// ambiguity: a scope holding whitespace or a control character would reach
// the upstream as several scopes the gateway never granted, so it is left
// out (authn refuses tokens carrying one; this guards identities made by
// other authenticators).
func sendable(scopes []string) []string {
	if !slices.ContainsFunc(scopes, unsendable) {
		return scopes
	}
	return slices.DeleteFunc(slices.Clone(scopes), unsendable)
}

func unsendable(scope string) bool { return scope == "" || strings.ContainsFunc(scope, notInScope) }

// notInScope reports whether r may not appear in a scope (RFC 6749
// section 3.3 allows printable ASCII but space, '"' and '\'; sluice
// refuses only what breaks the space-separated form).
func notInScope(r rune) bool { return r <= ' ' || r == 0x7f || unicode.IsSpace(r) }

// claimValues renders a claim as metadata values: strings as they are,
// lists one value per element, anything else as JSON.
func claimValues(v any) []string {
	switch v := v.(type) {
	case string:
		return []string{v}
	case []string:
		return v
	case []any:
		out := make([]string, 0, len(v))
		for _, e := range v {
			out = append(out, claimValues(e)...)
		}
		return out
	}
	b, err := json.Marshal(v)
	if err != nil {
		return []string{fmt.Sprint(v)}
	}
	return []string{string(b)}
}

// escape percent-encodes the bytes gRPC does not allow in ASCII metadata
// values (anything outside printable ASCII) and "%" itself, as gRPC does
// for grpc-message, so that no subject or claim can make the upstream call
// fail or smuggle a header.
func escape(s string) string {
	clean := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '%' {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c > 0x7e || c == '%' {
			fmt.Fprintf(&b, "%%%02X", c)
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// stream overrides the context of a grpc.ServerStream, which is what the
// proxy reads the forwarded metadata from.
type stream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *stream) Context() context.Context { return s.ctx }
