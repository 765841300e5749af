package identity

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"unicode"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"github.com/sluice-dev/sluice/config"
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
	cfg    config.Identity
	remove []string // keys removed from every call, identity keys first
}

// NewPropagator validates cfg and returns a Propagator for it.
func NewPropagator(cfg config.Identity) (*Propagator, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	p := &Propagator{cfg: cfg}
	p.remove = append(p.remove, cfg.Keys()...)
	p.remove = append(p.remove, cfg.Strip...)
	return p, nil
}

// StreamServerInterceptor returns the interceptor. It belongs after
// authorization, so that it sees the identity the call was allowed with,
// and before the proxy. Authentication must run before it: it reads the
// credentials this removes.
func (p *Propagator) StreamServerInterceptor() grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		ctx := ss.Context()
		id, _ := FromContext(ctx)
		md := p.Rewrite(ctx, id)
		return handler(srv, &stream{ServerStream: ss, ctx: metadata.NewIncomingContext(ctx, md)})
	}
}

// Rewrite returns a copy of ctx's incoming metadata with every removed key
// gone (also under the Grpc-Metadata- prefix) and id's values set; id may
// be nil for an anonymous call.
func (p *Propagator) Rewrite(ctx context.Context, id *Identity) metadata.MD {
	in, _ := metadata.FromIncomingContext(ctx)
	md := in.Copy()
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
	set(p.cfg.SubjectKey, id.Subject)
	set(p.cfg.ProviderKey, id.Provider)
	if scopes := sendable(id.Scopes); len(scopes) > 0 {
		set(p.cfg.ScopesKey, strings.Join(scopes, " "))
	}
	for _, c := range p.cfg.Claims {
		if v, ok := id.Claim(c.Claim); ok {
			set(c.Key, claimValues(v)...)
		}
	}
	return md
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
