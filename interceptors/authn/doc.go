// Package authn authenticates calls: it verifies the credentials a call
// carries and puts the caller's identity (interceptors/identity) into the
// call's context for authorization, rate limiting and logging.
//
// Three providers can be configured, each with its option (WithJWT,
// WithAPIKeys, WithMTLS); the policy package translates the configuration's
// policy.authn section into them:
//
//   - jwt: "authorization: Bearer <JWT>", verified with golang-jwt against a
//     JSON Web Key Set from a URL or file. The set is cached, refreshed in
//     the background when older than refresh_interval, and re-fetched when a
//     token names an unknown kid, at most once per min_refetch_interval
//     whatever the number of such tokens, the callers sharing the fetch in
//     flight. A failed fetch keeps the last good keys. The algorithm must fit
//     the key (RSA keys verify RS/PS, EC keys the ES of their curve, Ed25519
//     EdDSA, and a key's own "alg" pins it), so "none" and HS256-with-the-
//     public-key tokens never verify. exp, iss and aud are required; exp, nbf
//     and iat are checked with the configured leeway. A token with a "crit"
//     header is refused (RFC 7515 section 4.1.11: sluice understands no
//     extension, and a malformed crit is refused too), and so is one whose
//     list-form scope claim holds a scope with whitespace, which upstreams,
//     receiving scopes space-separated, would read as several.
//   - api_key: a static key in a metadata key (REST: header) of choice,
//     stored as a SHA-256 hash and compared in constant time.
//   - mtls: the client certificate the TLS listener verified.
//
// Which providers a method accepts, and whether it admits callers without
// credentials, comes from a MethodPolicy (the authz rules). Credentials
// that are presented but invalid are always refused. Refusals are
// UNAUTHENTICATED statuses whose messages say what was wrong without
// quoting the credential, with WWW-Authenticate challenges in the response
// header metadata under ChallengeKey.
//
// The package knows nothing of HTTP requests: REST calls arrive with their
// headers as metadata, like gRPC calls.
package authn
