package authn

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"
)

// The demo identity provider. NOT FOR PRODUCTION: the demo private key is
// derived from a constant in this source file, so anyone can mint tokens
// it signs. It exists so that "sluice serve" with no flags and the README
// tour can show authentication without an identity provider.
const (
	// DemoKeyID is the kid of the demo key.
	DemoKeyID = "sluice-demo-2026"
	// DemoIssuer is the iss of demo tokens.
	DemoIssuer = "https://demo.sluice.invalid"
	// DemoAudience is the aud of demo tokens.
	DemoAudience = "sluice-demo"
)

// DemoKey returns the demo Ed25519 signing key, the same on every call and
// every machine. NOT FOR PRODUCTION: its private half is public.
func DemoKey() ed25519.PrivateKey {
	seed := sha256.Sum256([]byte("sluice demo signing key - public, never use in production"))
	return ed25519.NewKeyFromSeed(seed[:])
}

// DemoJWKS returns the JSON Web Key Set holding the public half of
// DemoKey, to serve as jwks_url, write as jwks_file or pass to
// WithKeySource for the demo.
func DemoJWKS() ([]byte, error) {
	jwk, err := jwkset.NewJWKFromKey(DemoKey().Public(), jwkset.JWKOptions{
		Metadata: jwkset.JWKMetadataOptions{KID: DemoKeyID, ALG: jwkset.AlgEdDSA, USE: jwkset.UseSig},
	})
	if err != nil {
		return nil, fmt.Errorf("demo key: %w", err)
	}
	return json.Marshal(jwkset.JWKSMarshal{Keys: []jwkset.JWKMarshal{jwk.Marshal()}})
}

// MintDemoToken returns a token signed with DemoKey for subject, holding
// scopes (space-separated in the "scope" claim) and valid for ttl from
// now, with DemoIssuer and DemoAudience. NOT FOR PRODUCTION.
func MintDemoToken(subject string, scopes []string, ttl time.Duration, extra map[string]any) (string, error) {
	if subject == "" {
		return "", fmt.Errorf("demo token: empty subject")
	}
	if ttl <= 0 {
		return "", fmt.Errorf("demo token: ttl must be positive, got %s", ttl)
	}
	now := time.Now()
	claims := jwt.MapClaims{}
	for k, v := range extra {
		claims[k] = v
	}
	claims["iss"] = DemoIssuer
	claims["aud"] = DemoAudience
	claims["sub"] = subject
	claims["iat"] = now.Unix()
	claims["nbf"] = now.Unix()
	claims["exp"] = now.Add(ttl).Unix()
	if len(scopes) > 0 {
		claims["scope"] = strings.Join(scopes, " ")
	}
	t := jwt.NewWithClaims(jwt.SigningMethodEdDSA, claims)
	t.Header["kid"] = DemoKeyID
	return t.SignedString(DemoKey())
}
