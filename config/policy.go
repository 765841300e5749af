package config

import (
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sluice-dev/sluice/interceptors/authn"
	"github.com/sluice-dev/sluice/interceptors/authz"
	"github.com/sluice-dev/sluice/interceptors/deadline"
	"github.com/sluice-dev/sluice/interceptors/identity"
)

// Policy configures the policies every call passes before it reaches an
// upstream, whatever protocol it came in on: authentication, authorization,
// identity propagation and deadlines. Package policy turns its sections
// into the options of the interceptors of the same names
// (interceptors/authn, interceptors/authz, interceptors/identity,
// interceptors/deadline).
type Policy struct {
	Authn    Authn    `yaml:"authn" doc:"How callers prove who they are. Each configured provider is tried when a method's rule accepts it; credentials that are presented but invalid are refused with {UNAUTHENTICATED} (HTTP 401), also on methods open to anonymous callers."`
	Authz    Authz    `yaml:"authz" doc:"Who may call which method. Rules are keyed on gRPC method full names, never on HTTP paths, so every protocol and every HTTP binding of a method gets the same decision."`
	Identity Identity `yaml:"identity" doc:"How the verified identity reaches upstreams, as request metadata. Client-supplied values of these keys are always removed first, so upstreams can trust them."`
	Deadline Deadline `yaml:"deadline" doc:"Deadlines of calls: a default when the caller sets none, a maximum that clamps what callers ask, and time reserved for the gateway."`
}

// Authn configures the authentication providers. A provider is configured
// when its section is: JWT when a JWKS source is set, API keys when at least
// one key is listed, mTLS when enabled.
type Authn struct {
	JWT     JWTAuth    `yaml:"jwt" doc:"JWT bearer tokens ({authorization: Bearer ...}), provider name {jwt}. Configured when {jwks_url} or {jwks_file} is set."`
	APIKeys APIKeyAuth `yaml:"api_keys" doc:"Static API keys, provider name {api_key}. Configured when {keys} is not empty."`
	MTLS    MTLSAuth   `yaml:"mtls" doc:"Client certificates verified by the listener's TLS ({tls.client_auth}), provider name {mtls}."`
}

// Provider names, as written in authz rules and reported in identities.
const (
	ProviderJWT    = identity.ProviderJWT
	ProviderAPIKey = identity.ProviderAPIKey
	ProviderMTLS   = identity.ProviderMTLS
)

// JWTAuth configures JWT bearer token verification.
type JWTAuth struct {
	JWKSURL         string   `yaml:"jwks_url" doc:"HTTP(S) URL of the JSON Web Key Set that holds the token signing keys, usually the identity provider's {jwks_uri}."`
	JWKSFile        string   `yaml:"jwks_file" kind:"path" doc:"File holding the JSON Web Key Set, instead of {jwks_url}. It is re-read like a URL is re-fetched."`
	RefreshInterval Duration `yaml:"refresh_interval" doc:"Re-fetch the key set when it is older than this, at least 1s. Refreshes happen in the background; calls keep using the keys they have."`
	MinRefetch      Duration `yaml:"min_refetch_interval" doc:"A token naming an unknown key ({kid}) triggers one shared re-fetch, at most once per this interval (at least 1s), so a flood of made-up key ids cannot turn into a flood of fetches. A failed fetch keeps the last good keys."`
	FetchTimeout    Duration `yaml:"fetch_timeout" doc:"Longest time one key set fetch may take."`
	Issuer          string   `yaml:"issuer" doc:"Required value of the {iss} claim. Required."`
	Audiences       []string `yaml:"audiences" doc:"Accepted values of the {aud} claim: a token must name at least one. Required."`
	Leeway          Duration `yaml:"leeway" doc:"Clock skew allowed when checking {exp}, {nbf} and {iat}, at most 5m."`
	Algorithms      []string `yaml:"algorithms" doc:"Accepted signature algorithms. Empty accepts every asymmetric one (RS256/384/512, PS256/384/512, ES256/384/512, EdDSA); the algorithm must in any case fit the key it names. {none} and HMAC algorithms are never accepted."`
	RequiredClaims  []string `yaml:"required_claims" doc:"Claims every token must carry, besides {exp}, {iss} and {aud} which are always required."`
	SubjectClaim    string   `yaml:"subject_claim" doc:"Claim holding the caller's subject; it must be a non-empty string."`
	ScopeClaim      string   `yaml:"scope_claim" doc:"Claim holding the caller's scopes: a space-separated string (OAuth 2.0 {scope}) or a list of strings ({scp}). A token whose list holds a scope with whitespace is refused: no rule can name such a scope, and upstreams would read it as several."`
	MaxTokenSize    ByteSize `yaml:"max_token_size" doc:"Longest bearer token accepted, between 256B and 64KiB; longer ones are refused before any parsing."`
}

// Configured reports whether a JWKS source is set.
func (j *JWTAuth) Configured() bool { return j.JWKSURL != "" || j.JWKSFile != "" }

// APIKeyAuth configures static API keys.
type APIKeyAuth struct {
	Header string   `yaml:"header" doc:"Request metadata key (REST: HTTP header) that carries the key, in lower case."`
	Keys   []APIKey `yaml:"keys" doc:"The accepted keys."`
}

// APIKey is one accepted API key. Only its hash is stored.
type APIKey struct {
	Name   string   `yaml:"name" doc:"Name of the key; it becomes the caller's subject. Required and unique."`
	Hash   string   `yaml:"hash" doc:"SHA-256 of the key, as {sha256:} followed by 64 hex digits ({printf %s \"$KEY\" | sha256sum}). Required and unique."`
	Scopes []string `yaml:"scopes" doc:"Scopes granted to callers using this key."`
}

// MTLSAuth configures identities from client certificates.
type MTLSAuth struct {
	Enabled bool        `yaml:"enabled" doc:"Accept verified client certificates as identities. Requires {tls.client_auth} to be {request} or {require_and_verify}."`
	Subject MTLSSubject `yaml:"subject" doc:"Which part of the certificate becomes the subject: its common name, its whole distinguished name, or its first DNS, URI (SPIFFE ID) or e-mail SAN. A certificate without that part is refused."`
}

// MTLSSubject names the certificate field that becomes an mTLS subject.
type MTLSSubject string

// The values of MTLSSubject.
const (
	MTLSCommonName = MTLSSubject(authn.SubjectCommonName)
	MTLSDN         = MTLSSubject(authn.SubjectDN)
	MTLSDNSSAN     = MTLSSubject(authn.SubjectDNSSAN)
	MTLSURISAN     = MTLSSubject(authn.SubjectURISAN)
	MTLSEmailSAN   = MTLSSubject(authn.SubjectEmailSAN)
)

func (MTLSSubject) choices() []string {
	return []string{string(MTLSCommonName), string(MTLSDN), string(MTLSDNSSAN), string(MTLSURISAN), string(MTLSEmailSAN)}
}

// Authz configures authorization rules.
type Authz struct {
	Default Access      `yaml:"default" doc:"Access for a method that no rule names. {deny} is the safe choice: a method added upstream stays closed until a rule opens it."`
	Rules   []AuthzRule `yaml:"rules" doc:"The rules. For each method the rule with the most specific matching pattern wins: the longest pattern without its trailing {*}, and at equal length a pattern without {*}. Rule order does not matter."`
}

// AuthzRule decides access to the methods its patterns match.
type AuthzRule struct {
	Methods   []string `yaml:"methods" doc:"Method patterns, written as for {upstreams[].methods}: a package, service or method full name, or a prefix ending in {*}. A pattern may appear in one rule only."`
	Access    Access   `yaml:"access" doc:"{anonymous}: anyone, with or without credentials; {authenticated}: a verified identity that meets {scopes} and {claims}; {deny}: nobody. Required."`
	Providers []string `yaml:"providers" doc:"Providers whose credentials these methods accept ({jwt}, {api_key}, {mtls}), in order of preference: the first one whose credentials the call carries decides. Empty accepts every configured provider."`
	Scopes    []string `yaml:"scopes" doc:"Scopes the identity must all hold. Only with {access: authenticated}."`
	Claims    []string `yaml:"claims" doc:"Conditions on the identity's claims that must all hold, as {CLAIM == VALUE}, {CLAIM != VALUE} or {CLAIM contains VALUE} ({contains} looks into lists and space-separated strings). A dotted CLAIM reaches into nested objects when no claim has the dotted name. A missing claim fails every condition. Only with {access: authenticated}."`
}

// Access is what an authorization rule allows.
type Access string

// The values of Access.
const (
	AccessAnonymous     = Access(authz.Anonymous)
	AccessAuthenticated = Access(authz.Authenticated)
	AccessDeny          = Access(authz.Deny)
)

func (Access) choices() []string {
	return []string{string(AccessAnonymous), string(AccessAuthenticated), string(AccessDeny)}
}

// Identity configures how identities are passed upstream.
type Identity struct {
	SubjectKey  string     `yaml:"subject_key" doc:"Metadata key carrying the subject to upstreams; empty sends none."`
	ProviderKey string     `yaml:"provider_key" doc:"Metadata key carrying the provider that verified the caller ({jwt}, {api_key}, {mtls}); empty sends none."`
	ScopesKey   string     `yaml:"scopes_key" doc:"Metadata key carrying the scopes, one value, space-separated (a scope never holds whitespace); empty sends none."`
	Claims      []ClaimKey `yaml:"claims" doc:"Claims passed upstream, each in its own metadata key."`
	Strip       []string   `yaml:"strip" doc:"Request metadata keys removed before the call goes upstream, typically the credentials upstreams should not see. Leave {authorization} out of this list to pass the original bearer token on."`
}

// ClaimKey passes one claim upstream.
type ClaimKey struct {
	Claim string `yaml:"claim" doc:"Claim name (dotted paths reach into nested objects). Strings are sent as they are, lists as repeated values, other values as JSON."`
	Key   string `yaml:"key" doc:"Metadata key carrying it."`
}

// Deadline configures call deadlines.
type Deadline struct {
	Default           Duration       `yaml:"default" doc:"Deadline of calls whose caller sets none; 0 sets none."`
	Max               Duration       `yaml:"max" doc:"Longest deadline a call may have: longer ones are shortened to it, and calls that would have none get it. 0 sets no maximum."`
	Offset            Duration       `yaml:"offset" doc:"Time reserved for the gateway's own work: the upstream gets the caller's deadline minus this, so that the gateway can still answer in time. Must be shorter than {default} and {max} when they are set."`
	MaxStreamDuration Duration       `yaml:"max_stream_duration" doc:"Longest a call may stay open, whatever deadline it has (none included): a stream that reaches it ends with {DEADLINE_EXCEEDED}, and the upstream sees it as its deadline. 0 sets none."`
	IdleTimeout       Duration       `yaml:"idle_timeout" doc:"End a call when no message has crossed it, in either direction, for this long: the caller gets {CANCELLED} and the upstream call is cancelled. 0 sets none."`
	Rules             []DeadlineRule `yaml:"rules" doc:"Per-method values. The most specific matching pattern wins, as for {policy.authz.rules}; a rule gives all three values (0 means none), methods no rule names use the values above. Streams that may last long, like watches, need a rule with no default."`
}

// DeadlineRule gives the deadline values of some methods.
type DeadlineRule struct {
	Methods           []string `yaml:"methods" doc:"Method patterns, as for {upstreams[].methods}. A pattern may appear in one rule only."`
	Default           Duration `yaml:"default" doc:"Deadline when the caller sets none; 0 sets none."`
	Max               Duration `yaml:"max" doc:"Longest deadline allowed; 0 sets no maximum."`
	Offset            Duration `yaml:"offset" doc:"Time reserved for the gateway."`
	MaxStreamDuration Duration `yaml:"max_stream_duration" doc:"Longest the call may stay open; 0 sets none."`
	IdleTimeout       Duration `yaml:"idle_timeout" doc:"Longest the call may go without a message either way; 0 sets none."`
}

// defaultPolicy is the Policy part of Default.
func defaultPolicy() Policy {
	return Policy{
		Authn: Authn{
			JWT: JWTAuth{
				RefreshInterval: Duration(5 * time.Minute),
				MinRefetch:      Duration(30 * time.Second),
				FetchTimeout:    Duration(10 * time.Second),
				Leeway:          Duration(30 * time.Second),
				SubjectClaim:    "sub",
				ScopeClaim:      "scope",
				MaxTokenSize:    8 << 10,
			},
			APIKeys: APIKeyAuth{Header: "x-api-key"},
			MTLS:    MTLSAuth{Subject: MTLSCommonName},
		},
		Authz: Authz{Default: AccessDeny},
		Identity: Identity{
			SubjectKey:  "x-sluice-subject",
			ProviderKey: "x-sluice-provider",
			ScopesKey:   "x-sluice-scopes",
			Strip:       []string{"authorization", "x-api-key"},
		},
	}
}

func (p *Policy) validate(errs *Errors, path string, tls *ServerTLS) {
	p.Authn.validate(errs, path+".authn", tls)
	p.Authz.validate(errs, path+".authz", &p.Authn)
	p.Identity.validate(errs, path+".identity")
	p.Deadline.validate(errs, path+".deadline")
}

func (a *Authn) validate(errs *Errors, path string, tls *ServerTLS) {
	a.JWT.validate(errs, path+".jwt")
	a.APIKeys.validate(errs, path+".api_keys")
	mpath := path + ".mtls"
	checkEnum(errs, mpath+".subject", a.MTLS.Subject)
	if a.MTLS.Enabled && tls != nil && tls.ClientAuth == ClientAuthNone {
		errs.add(mpath+".enabled", "needs tls.client_auth request or require_and_verify: without it no client certificate is asked for")
	}
	if a.JWT.Configured() && a.APIKeys.Header == "authorization" && len(a.APIKeys.Keys) > 0 {
		errs.add(path+".api_keys.header", "must differ from authorization, which carries JWT bearer tokens")
	}
}

// providers lists the configured provider names.
func (a *Authn) providers() []string {
	var ps []string
	if a.JWT.Configured() {
		ps = append(ps, ProviderJWT)
	}
	if len(a.APIKeys.Keys) > 0 {
		ps = append(ps, ProviderAPIKey)
	}
	if a.MTLS.Enabled {
		ps = append(ps, ProviderMTLS)
	}
	return ps
}

func (j *JWTAuth) validate(errs *Errors, path string) {
	if !j.Configured() {
		if j.Issuer != "" || len(j.Audiences) > 0 || len(j.RequiredClaims) > 0 || len(j.Algorithms) > 0 {
			errs.add(path+".jwks_url", "must be set (or jwks_file) when other jwt keys are set")
		}
		return
	}
	if j.JWKSURL != "" && j.JWKSFile != "" {
		errs.add(path+".jwks_file", "contradicts jwks_url: set one key source")
	}
	if j.JWKSURL != "" {
		u, err := url.Parse(j.JWKSURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			errs.add(path+".jwks_url", fmt.Sprintf("must be an absolute http or https URL, got %q", j.JWKSURL))
		}
	}
	checkFile(errs, path+".jwks_file", j.JWKSFile)
	checkDuration(errs, path+".refresh_interval", j.RefreshInterval, time.Second)
	checkDuration(errs, path+".min_refetch_interval", j.MinRefetch, time.Second)
	checkDuration(errs, path+".fetch_timeout", j.FetchTimeout, time.Nanosecond)
	checkDuration(errs, path+".leeway", j.Leeway, 0)
	if j.Leeway > Duration(5*time.Minute) {
		errs.add(path+".leeway", fmt.Sprintf("must be at most 5m, got %s", j.Leeway))
	}
	if j.Issuer == "" {
		errs.add(path+".issuer", "must be set: tokens from any issuer sharing the keys would be accepted otherwise")
	}
	if len(j.Audiences) == 0 {
		errs.add(path+".audiences", "must list at least one audience: tokens minted for other services would be accepted otherwise")
	}
	for i, a := range j.Audiences {
		if a == "" {
			errs.add(path+".audiences["+strconv.Itoa(i)+"]", "must not be empty")
		}
	}
	for i, alg := range j.Algorithms {
		if algs := authn.JWTAlgorithms(); !slices.Contains(algs, alg) {
			errs.add(path+".algorithms["+strconv.Itoa(i)+"]", fmt.Sprintf("must be one of %s, got %q", strings.Join(algs, ", "), alg))
		}
	}
	for i, c := range j.RequiredClaims {
		if c == "" {
			errs.add(path+".required_claims["+strconv.Itoa(i)+"]", "must not be empty")
		}
	}
	if j.SubjectClaim == "" {
		errs.add(path+".subject_claim", "must not be empty")
	}
	if j.ScopeClaim == "" {
		errs.add(path+".scope_claim", "must not be empty")
	}
	checkSize(errs, path+".max_token_size", j.MaxTokenSize, 256, 64<<10)
}

func (k *APIKeyAuth) validate(errs *Errors, path string) {
	if err := identity.ValidMetadataKey(k.Header); err != nil {
		errs.add(path+".header", err.Error())
	}
	names := map[string]int{}
	hashes := map[string]int{}
	for i, key := range k.Keys {
		kpath := path + ".keys[" + strconv.Itoa(i) + "]"
		if key.Name == "" {
			errs.add(kpath+".name", "must not be empty")
		} else if j, dup := names[key.Name]; dup {
			errs.add(kpath+".name", fmt.Sprintf("%q is already the name of keys[%d]", key.Name, j))
		} else {
			names[key.Name] = i
		}
		if _, err := authn.ParseKeyHash(key.Hash); err != nil {
			errs.add(kpath+".hash", err.Error())
		} else if j, dup := hashes[strings.ToLower(key.Hash)]; dup {
			errs.add(kpath+".hash", fmt.Sprintf("is also the hash of keys[%d]", j))
		} else {
			hashes[strings.ToLower(key.Hash)] = i
		}
		checkScopes(errs, kpath+".scopes", key.Scopes)
	}
}

func checkScopes(errs *Errors, path string, scopes []string) {
	for i, s := range scopes {
		if s == "" || strings.ContainsFunc(s, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
			errs.add(path+"["+strconv.Itoa(i)+"]", fmt.Sprintf("must be a non-empty scope without spaces, got %q", s))
		}
	}
}

func (a *Authz) validate(errs *Errors, path string, authn *Authn) {
	checkEnum(errs, path+".default", a.Default)
	configured := authn.providers()
	seen := map[string]string{}
	for i, r := range a.Rules {
		rpath := path + ".rules[" + strconv.Itoa(i) + "]"
		checkPatterns(errs, rpath+".methods", r.Methods, seen)
		if r.Access == "" {
			errs.add(rpath+".access", "must be set: anonymous, authenticated or deny")
			continue
		}
		if !checkEnum(errs, rpath+".access", r.Access) {
			continue
		}
		addProblems(errs, rpath, authz.Rule{Access: authz.Access(r.Access), Scopes: r.Scopes, Claims: r.Claims}.Validate())
		if r.Access == AccessAuthenticated && len(configured) == 0 {
			errs.add(rpath+".access", "authenticated needs at least one provider configured under policy.authn")
		}
		for k, p := range r.Providers {
			ppath := rpath + ".providers[" + strconv.Itoa(k) + "]"
			switch {
			case p != ProviderJWT && p != ProviderAPIKey && p != ProviderMTLS:
				errs.add(ppath, fmt.Sprintf("must be one of jwt, api_key, mtls, got %q", p))
			case !slices.Contains(configured, p):
				errs.add(ppath, fmt.Sprintf("provider %s is not configured under policy.authn", p))
			case slices.Contains(r.Providers[:k], p):
				errs.add(ppath, fmt.Sprintf("provider %s is listed twice", p))
			}
		}
		checkScopes(errs, rpath+".scopes", r.Scopes)
		for k, c := range r.Claims {
			if _, err := authz.ParseClaimCheck(c); err != nil {
				errs.add(rpath+".claims["+strconv.Itoa(k)+"]", err.Error())
			}
		}
	}
}

// checkPatterns validates method patterns; seen maps each pattern already
// used in the same table to the path of its first use, or is nil where a
// pattern may repeat.
func checkPatterns(errs *Errors, path string, patterns []string, seen map[string]string) {
	if len(patterns) == 0 {
		errs.add(path, "must list at least one method pattern (\"*\" matches every method)")
	}
	for k, p := range patterns {
		mpath := path + "[" + strconv.Itoa(k) + "]"
		if err := ValidPattern(p); err != nil {
			errs.add(mpath, err.Error())
			continue
		}
		if seen == nil {
			continue
		}
		if first, dup := seen[p]; dup {
			errs.add(mpath, fmt.Sprintf("pattern %q is already used at %s; a pattern may appear in one rule only", p, first))
			continue
		}
		seen[p] = mpath
	}
}

func (id *Identity) validate(errs *Errors, path string) {
	seen := map[string]string{}
	check := func(p, k string) {
		if err := identity.ValidMetadataKey(k); err != nil {
			errs.add(p, err.Error())
			return
		}
		if k == "authorization" {
			errs.add(p, "must not be authorization, which carries credentials")
			return
		}
		if first, dup := seen[k]; dup {
			errs.add(p, fmt.Sprintf("key %q is also used by %s", k, first))
			return
		}
		seen[k] = p
	}
	for _, f := range []struct{ path, key string }{
		{path + ".subject_key", id.SubjectKey},
		{path + ".provider_key", id.ProviderKey},
		{path + ".scopes_key", id.ScopesKey},
	} {
		if f.key != "" {
			check(f.path, f.key)
		}
	}
	for i, c := range id.Claims {
		cpath := path + ".claims[" + strconv.Itoa(i) + "]"
		if c.Claim == "" {
			errs.add(cpath+".claim", "must not be empty")
		}
		check(cpath+".key", c.Key)
	}
	for i, k := range id.Strip {
		spath := path + ".strip[" + strconv.Itoa(i) + "]"
		if err := identity.ValidMetadataKey(k); err != nil {
			errs.add(spath, err.Error())
		} else if first, dup := seen[k]; dup {
			errs.add(spath, fmt.Sprintf("key %q is set by %s; stripping it too is contradictory", k, first))
		}
	}
}

func (d *Deadline) validate(errs *Errors, path string) {
	checkDeadlineValues(errs, path, d.Default, d.Max, d.Offset)
	checkDuration(errs, path+".max_stream_duration", d.MaxStreamDuration, 0)
	checkDuration(errs, path+".idle_timeout", d.IdleTimeout, 0)
	seen := map[string]string{}
	for i, r := range d.Rules {
		rpath := path + ".rules[" + strconv.Itoa(i) + "]"
		checkPatterns(errs, rpath+".methods", r.Methods, seen)
		checkDeadlineValues(errs, rpath, r.Default, r.Max, r.Offset)
		checkDuration(errs, rpath+".max_stream_duration", r.MaxStreamDuration, 0)
		checkDuration(errs, rpath+".idle_timeout", r.IdleTimeout, 0)
	}
}

// checkDeadlineValues reports what deadline.Limits.Validate, the one
// check of these values, finds.
func checkDeadlineValues(errs *Errors, path string, def, maxD, offset Duration) {
	addProblems(errs, path, deadline.Limits{Default: time.Duration(def), Max: time.Duration(maxD), Offset: time.Duration(offset)}.Validate())
}
