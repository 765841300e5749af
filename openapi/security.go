package openapi

import (
	"github.com/getkin/kin-openapi/openapi3"
)

// SchemeKind is how a security scheme carries credentials.
type SchemeKind int

const (
	// BearerJWT is a JWT in "Authorization: Bearer ...".
	BearerJWT SchemeKind = iota + 1
	// APIKeyHeader is an API key in the request header SecurityScheme.Name.
	APIKeyHeader
	// APIKeyQuery is an API key in the query parameter SecurityScheme.Name.
	APIKeyQuery
	// MutualTLS is a client certificate verified by the listener's TLS.
	MutualTLS
)

// SecurityScheme is one way callers prove who they are. It is documented
// under components.securitySchemes, named after its provider, and named in
// the security requirements of the operations that accept it.
type SecurityScheme struct {
	// Provider names the authentication provider ("jwt", "api_key",
	// "mtls"), as AccessPolicy reports it; it names the scheme.
	Provider string
	// Kind says how the credentials travel.
	Kind SchemeKind
	// Name is the header or query parameter of an API key.
	Name string
	// Description is shown with the scheme.
	Description string
}

// Access is what a method asks of its callers.
type Access int

const (
	// AccessAnonymous methods take calls with or without credentials
	// (credentials presented must still be valid).
	AccessAnonymous Access = iota
	// AccessAuthenticated methods need credentials of an accepted
	// provider.
	AccessAuthenticated
	// AccessDenied methods refuse every call; they are left out of the
	// document.
	AccessDenied
)

// AccessPolicy tells, for a gRPC method ("/pkg.Service/Method"), what it
// asks of callers and the providers whose credentials it accepts (nil for
// every scheme). It must be safe for concurrent use.
type AccessPolicy interface {
	Access(fullMethod string) (Access, []string)
}

// AccessFunc adapts a function to AccessPolicy.
type AccessFunc func(fullMethod string) (Access, []string)

// Access calls f.
func (f AccessFunc) Access(fullMethod string) (Access, []string) { return f(fullMethod) }

// WithSecurity documents how callers authenticate: schemes become
// components.securitySchemes, and every operation gets the security
// requirements policy gives its method (any scheme, optional, when policy
// is nil). Operations of denied methods are left out. Without this option
// (or with no scheme) every operation is documented as open, which is what
// a gateway with no authentication provider serves.
func WithSecurity(policy AccessPolicy, schemes ...SecurityScheme) Option {
	return optionFunc(func(c *config) {
		c.access = policy
		c.schemes = append(c.schemes, schemes...)
	})
}

// securitySchemes are the components of c's schemes.
func (c *config) securitySchemes() openapi3.SecuritySchemes {
	if len(c.schemes) == 0 {
		return nil
	}
	out := openapi3.SecuritySchemes{}
	for _, s := range c.schemes {
		v := &openapi3.SecurityScheme{Description: s.Description}
		switch s.Kind {
		case BearerJWT:
			v.Type, v.Scheme, v.BearerFormat = "http", "bearer", "JWT"
		case APIKeyHeader:
			v.Type, v.In, v.Name = "apiKey", "header", s.Name
		case APIKeyQuery:
			v.Type, v.In, v.Name = "apiKey", "query", s.Name
		case MutualTLS:
			v.Type = "mutualTLS"
		default:
			continue
		}
		out[s.Provider] = &openapi3.SecuritySchemeRef{Value: v}
	}
	return out
}

// security is the security requirements of method, and false when the
// method is denied to every caller.
func (c *config) security(method string) (openapi3.SecurityRequirements, bool) {
	access, providers := AccessAnonymous, []string(nil)
	if c.access != nil {
		access, providers = c.access.Access(method)
	}
	if access == AccessDenied {
		return nil, false
	}
	var reqs openapi3.SecurityRequirements
	if access == AccessAnonymous {
		// An empty requirement: no credentials needed.
		reqs = append(reqs, openapi3.SecurityRequirement{})
	}
	var accepted openapi3.SecurityRequirements
	for _, s := range c.schemes {
		if providers == nil || contains(providers, s.Provider) {
			accepted = append(accepted, openapi3.SecurityRequirement{s.Provider: []string{}})
		}
	}
	if access == AccessAuthenticated && len(accepted) == 0 {
		// No configured scheme can satisfy the method: every call is
		// refused.
		return nil, false
	}
	return append(reqs, accepted...), true
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
