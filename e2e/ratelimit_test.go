package e2e_test

import (
	"context"
	"net/http"
	"strconv"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/sluice-dev/sluice/config"
	"github.com/sluice-dev/sluice/demo"
	libraryv1 "github.com/sluice-dev/sluice/gen/go/sluice/demo/library/v1"
	"github.com/sluice-dev/sluice/interceptors/authn"
	"github.com/sluice-dev/sluice/interceptors/ratelimit"
	"github.com/sluice-dev/sluice/internal/gatewaytest"
)

// These tests check issue 7, acceptance 2: a local limit of 2 calls per
// minute on GetShelf, keyed each way the configuration offers, refuses the
// third call of a key over REST (429, google.rpc.Status with RetryInfo,
// Retry-After and RateLimit-* headers) and over gRPC (RESOURCE_EXHAUSTED
// with RetryInfo), shares the bucket between protocols and leaves other
// keys alone.

const (
	limitRate   = 2
	limitPeriod = time.Minute
	apiKeyAudit = "k-auditor-0123456789"
)

// limitCaller is one party a limit key tells apart: how it decorates REST
// requests and gRPC calls, and the source address of its connections.
type limitCaller struct {
	name string
	hdr  http.Header
	md   metadata.MD
	ip   string // "" for 127.0.0.1
}

// limitCase is one way of keying the limit, with three callers that must
// get separate buckets.
type limitCase struct {
	name    string
	key     string   // rate_limits.limits[].key
	trusted []string // rate_limits.trusted_proxies
	callers [3]limitCaller
	// sameKey decorates a call that must fall in callers[0]'s bucket
	// although it looks different (a spoofed X-Forwarded-For), or is nil.
	sameKey *limitCaller
	// unlimited is a caller the limit does not apply to, or nil.
	unlimited *limitCaller
}

func bearer(t *testing.T, subject string) (http.Header, metadata.MD) {
	tok := mintToken(t, subject, []string{readScope}, nil)
	return http.Header{"Authorization": {"Bearer " + tok}}, metadata.Pairs("authorization", "Bearer "+tok)
}

func limitCases(t *testing.T) []limitCase {
	var cases []limitCase

	idCase := limitCase{name: "identity", key: config.RateLimitKeyIdentity}
	for i, s := range []string{"alice", "bob", "carol"} {
		h, md := bearer(t, s)
		idCase.callers[i] = limitCaller{name: s, hdr: h, md: md}
	}
	idCase.unlimited = &limitCaller{name: "anonymous", hdr: http.Header{}, md: metadata.MD{}}
	cases = append(cases, idCase)

	keyCase := limitCase{name: "api_key", key: "api_key"}
	for i, k := range []string{apiKeyCI, apiKeyReporter, apiKeyAudit} {
		keyCase.callers[i] = limitCaller{
			name: "key" + strconv.Itoa(i),
			hdr:  http.Header{"Grpc-Metadata-X-Api-Key": {k}},
			md:   metadata.Pairs("x-api-key", k),
		}
	}
	h, md := bearer(t, "alice")
	keyCase.unlimited = &limitCaller{name: "jwt", hdr: h, md: md}
	cases = append(cases, keyCase)

	// Without trusted proxies the peer address is the key: callers connect
	// from different loopback addresses, and X-Forwarded-For is ignored.
	ipCase := limitCase{name: "client_ip", key: config.RateLimitKeyClientIP}
	for i, ip := range []string{"127.0.0.1", "127.0.0.2", "127.0.0.3"} {
		ipCase.callers[i] = limitCaller{name: ip, hdr: http.Header{}, md: metadata.MD{}, ip: ip}
	}
	ipCase.sameKey = &limitCaller{
		name: "127.0.0.1 claiming another address",
		hdr:  http.Header{"X-Forwarded-For": {"198.51.100.77"}},
		md:   metadata.Pairs("x-forwarded-for", "198.51.100.77"),
		ip:   "127.0.0.1",
	}
	cases = append(cases, ipCase)

	// Behind a trusted proxy (the loopback network) X-Forwarded-For names
	// the client, read from the right; entries left of the first untrusted
	// one are the client's own claims and are ignored.
	proxied := limitCase{name: "client_ip behind trusted proxy", key: config.RateLimitKeyClientIP, trusted: []string{"127.0.0.0/8"}}
	for i, ip := range []string{"203.0.113.1", "203.0.113.2", "203.0.113.3"} {
		proxied.callers[i] = limitCaller{
			name: ip,
			hdr:  http.Header{"X-Forwarded-For": {ip}},
			md:   metadata.Pairs("x-forwarded-for", ip),
		}
	}
	proxied.sameKey = &limitCaller{
		name: "203.0.113.1 prepending a spoofed address",
		hdr:  http.Header{"X-Forwarded-For": {"198.51.100.77, 203.0.113.1, 127.0.0.9"}},
		md:   metadata.Pairs("x-forwarded-for", "198.51.100.77, 203.0.113.1, 127.0.0.9"),
	}
	cases = append(cases, proxied)

	mdCase := limitCase{name: "metadata", key: config.RateLimitKeyMetadata + "x-tenant"}
	for i, tenant := range []string{"acme", "globex", "initech"} {
		mdCase.callers[i] = limitCaller{
			name: tenant,
			hdr:  http.Header{"Grpc-Metadata-X-Tenant": {tenant}},
			md:   metadata.Pairs("x-tenant", tenant),
		}
	}
	mdCase.unlimited = &limitCaller{name: "no tenant", hdr: http.Header{}, md: metadata.MD{}}
	cases = append(cases, mdCase)
	return cases
}

// limitPolicy is demoPolicy with a third API key.
func limitPolicy() *config.Policy {
	p := demoPolicy()
	p.Authn.APIKeys.Keys = append(p.Authn.APIKeys.Keys, config.APIKey{Name: "auditor", Hash: authn.HashAPIKey(apiKeyAudit), Scopes: []string{readScope}})
	return &p
}

func startLimitedGateway(t *testing.T, key string, trusted []string) *policyGateway {
	t.Helper()
	return startPolicyGateway(t, gatewayOptions{
		policy: limitPolicy(),
		limits: []config.RateLimit{{
			Name:    "getshelf",
			Methods: []string{librarySvc + ".GetShelf"},
			Key:     key,
			Rate:    limitRate,
			Period:  config.Duration(limitPeriod),
			Burst:   limitRate,
		}},
		trusted: trusted,
	})
}

// restLimited calls GetShelf over REST as c.
func restLimited(t *testing.T, g *policyGateway, c limitCaller, proto string) (int, []byte, http.Header) {
	t.Helper()
	client := httpClients(t, c.ip)[proto]
	return restCall(t, client, "GET", g.base+"/v1/"+demo.SeedShelfClassics, "", "", newTestID("limit"), c.hdr)
}

// grpcLimited calls GetShelf over gRPC as c and returns the status, the
// response header and trailer.
func grpcLimited(t *testing.T, g *policyGateway, c limitCaller) (*status.Status, metadata.MD, metadata.MD) {
	t.Helper()
	conn := g.dialGRPC(t, c.ip)
	ctx, cancel := context.WithTimeout(metadata.NewOutgoingContext(context.Background(), c.md), 5*time.Second)
	defer cancel()
	var hdr, trl metadata.MD
	_, err := libraryv1.NewLibraryServiceClient(conn).GetShelf(ctx,
		&libraryv1.GetShelfRequest{Name: demo.SeedShelfClassics}, grpc.Header(&hdr), grpc.Trailer(&trl))
	return status.Convert(err), hdr, trl
}

// checkAdmittedHeaders checks the RateLimit-* headers of an admitted REST
// call that left remaining tokens.
func checkAdmittedHeaders(t *testing.T, via string, h http.Header, remaining int) {
	t.Helper()
	if got := h.Get("RateLimit-Limit"); got != strconv.Itoa(limitRate) {
		t.Errorf("%s: RateLimit-Limit %q, want %d (headers %v)", via, got, limitRate, h)
	}
	if got := h.Get("RateLimit-Remaining"); got != strconv.Itoa(remaining) {
		t.Errorf("%s: RateLimit-Remaining %q, want %d", via, got, remaining)
	}
	if s, err := strconv.Atoi(h.Get("RateLimit-Reset")); err != nil || s < 1 || s > int(limitPeriod/time.Second) {
		t.Errorf("%s: RateLimit-Reset %q, want 1..%d seconds", via, h.Get("RateLimit-Reset"), int(limitPeriod/time.Second))
	}
	if h.Get("Retry-After") != "" {
		t.Errorf("%s: Retry-After on an admitted call", via)
	}
}

// retryDelay returns the RetryInfo delay among details, or false.
func retryDelay(details []any) (time.Duration, bool) {
	for _, d := range details {
		if ri, ok := d.(*errdetails.RetryInfo); ok {
			return ri.GetRetryDelay().AsDuration(), true
		}
	}
	return 0, false
}

// checkRESTRefusal checks a REST 429: body, RetryInfo and headers.
func checkRESTRefusal(t *testing.T, via string, code int, body []byte, h http.Header) {
	t.Helper()
	if code != http.StatusTooManyRequests {
		t.Errorf("%s: %d %s, want 429", via, code, body)
		return
	}
	st := decodeStatusBody(t, body)
	if codes.Code(st.GetCode()) != codes.ResourceExhausted {
		t.Errorf("%s: body code %d, want %d", via, st.GetCode(), codes.ResourceExhausted)
	}
	var details []any
	for _, a := range st.GetDetails() {
		m, err := a.UnmarshalNew()
		if err != nil {
			t.Errorf("%s: detail %s: %v", via, a.GetTypeUrl(), err)
			continue
		}
		details = append(details, m)
	}
	delay, ok := retryDelay(details)
	if !ok || delay <= 0 || delay > limitPeriod {
		t.Errorf("%s: RetryInfo delay %v (present %v), want within (0, %v]", via, delay, ok, limitPeriod)
	}
	ra, err := strconv.Atoi(h.Get("Retry-After"))
	if err != nil || ra < 1 || time.Duration(ra)*time.Second < delay || time.Duration(ra-1)*time.Second > delay {
		t.Errorf("%s: Retry-After %q, want the RetryInfo delay %v rounded up to seconds (headers %v)", via, h.Get("Retry-After"), delay, h)
	}
	if got := h.Get("RateLimit-Limit"); got != strconv.Itoa(limitRate) {
		t.Errorf("%s: RateLimit-Limit %q, want %d", via, got, limitRate)
	}
	if got := h.Get("RateLimit-Remaining"); got != "0" {
		t.Errorf("%s: RateLimit-Remaining %q, want 0", via, got)
	}
	if s, err := strconv.Atoi(h.Get("RateLimit-Reset")); err != nil || s < 1 {
		t.Errorf("%s: RateLimit-Reset %q, want at least 1", via, h.Get("RateLimit-Reset"))
	}
}

// checkGRPCRefusal checks a gRPC RESOURCE_EXHAUSTED refusal.
func checkGRPCRefusal(t *testing.T, via string, st *status.Status, hdr, trl metadata.MD) {
	t.Helper()
	if st.Code() != codes.ResourceExhausted {
		t.Errorf("%s: %v, want RESOURCE_EXHAUSTED", via, st)
		return
	}
	if d, ok := retryDelay(st.Details()); !ok || d <= 0 || d > limitPeriod {
		t.Errorf("%s: RetryInfo delay %v (present %v), want within (0, %v]", via, d, ok, limitPeriod)
	}
	// A refusal is a trailers-only response: its header metadata arrives
	// with the status.
	all := metadata.Join(hdr, trl)
	if len(all.Get(ratelimit.HeaderRetryAfter)) == 0 {
		t.Errorf("%s: no %s metadata (header %v, trailer %v)", via, ratelimit.HeaderRetryAfter, hdr, trl)
	}
	if got := all.Get(ratelimit.HeaderRemaining); len(got) == 0 || got[0] != "0" {
		t.Errorf("%s: %s %q, want 0", via, ratelimit.HeaderRemaining, got)
	}
}

// TestRateLimitKeys runs, for every kind of key, a caller to its limit
// over REST, then the same key over gRPC (the bucket is shared), a second
// caller over gRPC to its limit, and a third caller that still passes.
func TestRateLimitKeys(t *testing.T) {
	gatewaytest.CheckLeaks(t)
	for _, tc := range limitCases(t) {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			g := startLimitedGateway(t, tc.key, tc.trusted)
			a, b, c := tc.callers[0], tc.callers[1], tc.callers[2]

			// Caller a over REST: two admitted, with RateLimit-* headers,
			// then 429 (once over HTTP/1.1, once over h2c).
			for i, proto := range []string{"http1", "h2c"} {
				code, body, h := restLimited(t, g, a, proto)
				if code != http.StatusOK {
					t.Fatalf("%s call %d over %s: %d %s, want 200", a.name, i+1, proto, code, body)
				}
				checkAdmittedHeaders(t, a.name+" "+proto, h, limitRate-1-i)
			}
			for _, proto := range []string{"http1", "h2c"} {
				code, body, h := restLimited(t, g, a, proto)
				checkRESTRefusal(t, a.name+" third call over "+proto, code, body, h)
			}
			if tc.sameKey != nil {
				code, body, h := restLimited(t, g, *tc.sameKey, "http1")
				checkRESTRefusal(t, tc.sameKey.name, code, body, h)
				st, hdr, trl := grpcLimited(t, g, *tc.sameKey)
				checkGRPCRefusal(t, tc.sameKey.name+" over grpc", st, hdr, trl)
			}
			// The same key over gRPC: the bucket is the same.
			st, hdr, trl := grpcLimited(t, g, a)
			checkGRPCRefusal(t, a.name+" over grpc after REST", st, hdr, trl)

			// An unlimited method is not affected.
			code, body, _ := restCall(t, httpClients(t, a.ip)["http1"], "GET", g.base+"/v1/shelves", "", "", newTestID("limit"), a.hdr)
			if code != http.StatusOK {
				t.Errorf("ListShelves as %s: %d %s, want 200 (not limited)", a.name, code, body)
			}

			// Caller b over gRPC: two admitted with ratelimit-* metadata,
			// then RESOURCE_EXHAUSTED.
			for i := range limitRate {
				st, hdr, _ := grpcLimited(t, g, b)
				if st.Code() != codes.OK {
					t.Fatalf("%s call %d over grpc: %v", b.name, i+1, st)
				}
				if got := hdr.Get(ratelimit.HeaderRemaining); len(got) != 1 || got[0] != strconv.Itoa(limitRate-1-i) {
					t.Errorf("%s call %d over grpc: %s %q, want %d", b.name, i+1, ratelimit.HeaderRemaining, got, limitRate-1-i)
				}
				if got := hdr.Get(ratelimit.HeaderLimit); len(got) != 1 || got[0] != strconv.Itoa(limitRate) {
					t.Errorf("%s call %d over grpc: %s %q, want %d", b.name, i+1, ratelimit.HeaderLimit, got, limitRate)
				}
			}
			st, hdr, trl = grpcLimited(t, g, b)
			checkGRPCRefusal(t, b.name+" third call over grpc", st, hdr, trl)
			code, body, h := restLimited(t, g, b, "http1")
			checkRESTRefusal(t, b.name+" over REST after gRPC", code, body, h)

			// Caller c still has its whole bucket.
			code, body, h = restLimited(t, g, c, "h2c")
			if code != http.StatusOK {
				t.Errorf("%s over REST: %d %s, want 200 (its own bucket)", c.name, code, body)
			} else {
				checkAdmittedHeaders(t, c.name, h, limitRate-1)
			}
			if st, _, _ := grpcLimited(t, g, c); st.Code() != codes.OK {
				t.Errorf("%s over grpc: %v, want OK (its own bucket)", c.name, st)
			}

			// A caller the key does not apply to is not limited at all.
			if u := tc.unlimited; u != nil {
				for i := range limitRate + 1 {
					if code, body, _ := restLimited(t, g, *u, "http1"); code != http.StatusOK {
						t.Errorf("%s call %d over REST: %d %s, want 200 (not limited)", u.name, i+1, code, body)
					}
					if st, _, _ := grpcLimited(t, g, *u); st.Code() != codes.OK {
						t.Errorf("%s call %d over grpc: %v, want OK (not limited)", u.name, i+1, st)
					}
				}
			}
		})
	}
}

// TestRateLimitRESTMetadataHeader checks that a limit keyed on a metadata
// value counts REST calls by the HTTP header of that name, as the
// configuration documents (rate_limits.limits[].key "metadata:NAME": "each
// value of that request header"), with the REST options of `sluice serve`.
func TestRateLimitRESTMetadataHeader(t *testing.T) {
	gatewaytest.CheckLeaks(t)
	g := startLimitedGateway(t, config.RateLimitKeyMetadata+"x-tenant", nil)
	acme := limitCaller{name: "acme", hdr: http.Header{"X-Tenant": {"acme"}}}
	for i := range limitRate {
		if code, body, _ := restLimited(t, g, acme, "http1"); code != http.StatusOK {
			t.Fatalf("call %d: %d %s", i+1, code, body)
		}
	}
	code, body, h := restLimited(t, g, acme, "http1")
	checkRESTRefusal(t, "third call with X-Tenant: acme", code, body, h)
}
