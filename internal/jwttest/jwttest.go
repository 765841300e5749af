// Package jwttest mints and alters JSON Web Tokens for the tests of
// sluice's JWT verification (interceptors/authn and the end-to-end
// tests), so that each does not keep its own copy. Only tests import it.
package jwttest

import (
	"encoding/base64"
	"encoding/json"
	"maps"
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

// Sign returns claims signed with key by m, with the header kid when kid
// is not nil. It fails the test when the token cannot be signed.
func Sign(t testing.TB, m jwt.SigningMethod, key, kid any, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(m, claims)
	if kid != nil {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Segment returns v as a token segment: JSON, base64url without padding.
// Use it to forge headers and payloads that no signer would produce.
func Segment(v any) string {
	b, _ := json.Marshal(v)
	return base64.RawURLEncoding.EncodeToString(b)
}

// With returns a copy of c with the name/value pairs of kv set, or
// deleted when the value is nil. c, which may be nil, is not modified.
func With(c jwt.MapClaims, kv ...any) jwt.MapClaims {
	out := jwt.MapClaims{}
	maps.Copy(out, c)
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(out, kv[i].(string))
			continue
		}
		out[kv[i].(string)] = kv[i+1]
	}
	return out
}
