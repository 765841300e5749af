package authn

import (
	"context"
	"crypto/x509"
	"slices"

	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"

	"github.com/sluice-dev/sluice/interceptors/identity"
)

// mtlsProvider turns the client certificate the listener verified into an
// identity. It never verifies certificates itself: only chains in
// credentials.TLSInfo.State.VerifiedChains count, so an unverified
// certificate (client_auth: request without a valid chain) is no
// credential at all.
type mtlsProvider struct {
	subject MTLSSubject
}

// MTLSSubject names the certificate field that becomes an mTLS caller's
// subject.
type MTLSSubject string

// The values of MTLSSubject.
const (
	SubjectCommonName MTLSSubject = "common_name"
	SubjectDN         MTLSSubject = "dn"
	SubjectDNSSAN     MTLSSubject = "dns_san"
	SubjectURISAN     MTLSSubject = "uri_san"
	SubjectEmailSAN   MTLSSubject = "email_san"
)

// mtlsSubjects lists the values of MTLSSubject, for messages.
func mtlsSubjects() []string {
	return []string{string(SubjectCommonName), string(SubjectDN), string(SubjectDNSSAN), string(SubjectURISAN), string(SubjectEmailSAN)}
}

func (s MTLSSubject) valid() bool { return slices.Contains(mtlsSubjects(), string(s)) }

func (p *mtlsProvider) name() string { return identity.ProviderMTLS }

func leafOf(ctx context.Context) *x509.Certificate {
	pr, ok := peer.FromContext(ctx)
	if !ok {
		return nil
	}
	info, ok := pr.AuthInfo.(credentials.TLSInfo)
	if !ok || len(info.State.VerifiedChains) == 0 || len(info.State.VerifiedChains[0]) == 0 {
		return nil
	}
	return info.State.VerifiedChains[0][0]
}

func (p *mtlsProvider) present(ctx context.Context, _ metadata.MD) bool { return leafOf(ctx) != nil }

func (p *mtlsProvider) authenticate(ctx context.Context, _ metadata.MD) (*identity.Identity, error) {
	leaf := leafOf(ctx)
	if leaf == nil {
		return nil, unauthenticated("no verified client certificate")
	}
	uris := make([]any, 0, len(leaf.URIs))
	for _, u := range leaf.URIs {
		uris = append(uris, u.String())
	}
	claims := map[string]any{
		"cn":         leaf.Subject.CommonName,
		"dn":         leaf.Subject.String(),
		"dns_sans":   toAny(leaf.DNSNames),
		"uri_sans":   uris,
		"email_sans": toAny(leaf.EmailAddresses),
		"serial":     leaf.SerialNumber.String(),
	}
	var sub string
	switch p.subject {
	case SubjectDN:
		sub = leaf.Subject.String()
	case SubjectDNSSAN:
		sub = first(leaf.DNSNames)
	case SubjectURISAN:
		if len(uris) > 0 {
			sub = uris[0].(string)
		}
	case SubjectEmailSAN:
		sub = first(leaf.EmailAddresses)
	default:
		sub = leaf.Subject.CommonName
	}
	if sub == "" {
		return nil, unauthenticated("client certificate has no " + string(p.subject))
	}
	return &identity.Identity{Subject: sub, Provider: identity.ProviderMTLS, Claims: claims}, nil
}

func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

func toAny(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}
