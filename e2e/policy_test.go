package e2e_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	_ "google.golang.org/genproto/googleapis/rpc/errdetails" // RetryInfo in google.rpc.Status bodies
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/sluice-dev/sluice/config"
	"github.com/sluice-dev/sluice/connectproto"
	"github.com/sluice-dev/sluice/demo"
	libraryv1 "github.com/sluice-dev/sluice/gen/go/sluice/demo/library/v1"
	"github.com/sluice-dev/sluice/grpcweb"
	"github.com/sluice-dev/sluice/interceptors/authn"
	"github.com/sluice-dev/sluice/internal/gatewaytest"
	"github.com/sluice-dev/sluice/policy"
	"github.com/sluice-dev/sluice/registry"
	"github.com/sluice-dev/sluice/server"
	"github.com/sluice-dev/sluice/transcoding"
)

// These tests run the policy chain the way `sluice serve` does (recover ->
// logging -> authn -> authz -> rate limit -> deadline -> flow -> identity
// propagation -> proxy, see cmd/sluice/policy.go) in front of a demo
// upstream that records every call reaching it, and call it with real
// gRPC and HTTP clients. Decisions are asserted where they matter: at the
// upstream, not only in the status codes the client sees.

const (
	librarySvc = "sluice.demo.library.v1.LibraryService"
	svcPrefix  = "/" + librarySvc + "/"

	// testIDKey tags each test call so that the upstream recorder can tell
	// which calls reached it, whatever runs in parallel.
	testIDKey = "x-test-id"

	writeScope = "library.write"
	readScope  = "library.read"

	apiKeyCI       = "k-ci-bot-0123456789"
	apiKeyReporter = "k-reporter-0123456789"
)

// anonymousMethods are the demo methods the policy opens to anyone, as
// applyDemoPolicy does; every other method needs writeScope, and
// DeleteShelf also the claim role == admin.
var anonymousMethods = map[string]bool{
	"ListShelves": true, "GetShelf": true, "GetShelfFile": true,
	"ListBooks": true, "GetBook": true, "DownloadBook": true,
	"WatchShelf": true, "ExportBooks": true, "DiscussBook": true,
}

func isAnonymous(path string) bool {
	return anonymousMethods[strings.TrimPrefix(path, svcPrefix)]
}

// demoPolicy is the policy of these tests: the demo's (reads anonymous,
// writes need library.write), DeleteShelf for admins only, default deny.
// JWTs are verified with the demo key; two API keys exist.
func demoPolicy() config.Policy {
	p := config.Default().Policy
	p.Authn.JWT.JWKSURL = authn.DemoIssuer + "/jwks.json" // served by the key source
	p.Authn.JWT.Issuer = authn.DemoIssuer
	p.Authn.JWT.Audiences = []string{authn.DemoAudience}
	p.Authn.APIKeys.Keys = []config.APIKey{
		{Name: "ci-bot", Hash: authn.HashAPIKey(apiKeyCI), Scopes: []string{writeScope}},
		{Name: "reporter", Hash: authn.HashAPIKey(apiKeyReporter), Scopes: []string{readScope}},
	}
	var anon []string
	for m := range anonymousMethods {
		anon = append(anon, librarySvc+"."+m)
	}
	slices.Sort(anon)
	p.Authz.Default = config.AccessDeny
	p.Authz.Rules = []config.AuthzRule{
		{Methods: anon, Access: config.AccessAnonymous},
		{Methods: []string{librarySvc + ".DeleteShelf"}, Access: config.AccessAuthenticated, Scopes: []string{writeScope}, Claims: []string{"role == admin"}},
		{Methods: []string{"sluice.demo.library.v1"}, Access: config.AccessAuthenticated, Scopes: []string{writeScope}},
	}
	return p
}

// call is what the upstream recorder saw of one call.
type call struct {
	method string
	md     metadata.MD
	done   chan struct{} // closed when the upstream handler returned
	ctxErr error         // the handler context's error when it returned
}

// recorder is a pair of upstream interceptors that remember every call
// carrying testIDKey.
type recorder struct {
	mu    sync.Mutex
	calls map[string][]*call
}

func (r *recorder) begin(ctx context.Context, method string) *call {
	md, _ := metadata.FromIncomingContext(ctx)
	c := &call{method: method, md: md.Copy(), done: make(chan struct{})}
	if id := md.Get(testIDKey); len(id) > 0 {
		r.mu.Lock()
		if r.calls == nil {
			r.calls = map[string][]*call{}
		}
		r.calls[id[0]] = append(r.calls[id[0]], c)
		r.mu.Unlock()
	}
	return c
}

func (r *recorder) end(ctx context.Context, c *call) {
	c.ctxErr = ctx.Err()
	close(c.done)
}

func (r *recorder) unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	c := r.begin(ctx, info.FullMethod)
	defer r.end(ctx, c)
	return h(ctx, req)
}

func (r *recorder) stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
	c := r.begin(ss.Context(), info.FullMethod)
	defer r.end(ss.Context(), c)
	return h(srv, ss)
}

// seen returns the calls tagged id that reached the upstream.
func (r *recorder) seen(id string) []*call {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.calls[id])
}

// methods returns the methods the calls tagged id reached.
func (r *recorder) methods(id string) []string {
	var out []string
	for _, c := range r.seen(id) {
		out = append(out, c.method)
	}
	return out
}

var testIDs atomic.Int64

// newTestID returns a tag unique in the test binary.
func newTestID(prefix string) string {
	return fmt.Sprintf("%s-%d", prefix, testIDs.Add(1))
}

// policyGateway is a gateway with the production chain in front of a
// recording demo upstream.
type policyGateway struct {
	base string // http://127.0.0.1:port
	addr string
	rec  *recorder
	reg  *registry.Registry
}

type gatewayOptions struct {
	limits  []config.RateLimit
	trusted []string       // rate_limits.trusted_proxies
	policy  *config.Policy // nil: demoPolicy()
	// authn are the authenticator's options after its method policy; nil:
	// keys from authn.DemoJWKS.
	authn []authn.Option
	// configure, when set, changes the configuration before the chain is
	// built (limits, say).
	configure func(*config.Config)
	// rest are more REST handler options (WebSocket tokens, say).
	rest []transcoding.Option
}

// startPolicyGateway starts a demo upstream and a gateway with the
// production policy chain (policy.Build) for a configuration with the
// given policy and limits. Everything stops when the test ends.
func startPolicyGateway(t *testing.T, o gatewayOptions) *policyGateway {
	t.Helper()
	rec := &recorder{}
	upstream := startDemo(t, grpc.ChainStreamInterceptor(rec.stream), grpc.ChainUnaryInterceptor(rec.unary))
	reg, err := registry.New(registry.Linked(libraryv1.File_sluice_demo_library_v1_library_proto))
	if err != nil {
		t.Fatal(err)
	}

	pol := demoPolicy()
	if o.policy != nil {
		pol = *o.policy
	}
	authnOpts := o.authn
	if authnOpts == nil {
		authnOpts = []authn.Option{authn.WithKeySource(authn.KeySourceFunc(func(context.Context) ([]byte, error) { return authn.DemoJWKS() }))}
	}
	// The production chain, built where `sluice serve` builds it.
	cfg := config.Default()
	cfg.Policy = pol
	cfg.RateLimits.Limits = o.limits
	cfg.RateLimits.TrustedProxies = o.trusted
	if o.configure != nil {
		o.configure(&cfg)
	}
	chain, err := policy.Build(&cfg, policy.WithAuthnOptions(authnOpts...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(chain.Close)

	gw := gatewaytest.NewGateway(t, gatewaytest.Route(upstream, librarySvc), chain.Interceptors()...)
	routes, err := transcoding.BuildRoutes(reg.Snapshot())
	if err != nil {
		t.Fatal(err)
	}
	// The headers `sluice serve` lets REST clients send for the policies:
	// the deadline header, the API key header and the header a limit is
	// keyed on reach the chain.
	rest, err := transcoding.NewREST(func() *transcoding.Routes { return routes }, gw.Dispatcher,
		append([]transcoding.Option{transcoding.WithExtraIncomingHeaders(chain.RESTHeaders()...)}, o.rest...)...)
	if err != nil {
		t.Fatal(err)
	}
	// gRPC-Web in front of Connect in front of REST, as `sluice serve`
	// composes them.
	conn, err := connectproto.NewHandler(gw.Dispatcher, reg.Snapshot, rest)
	if err != nil {
		t.Fatal(err)
	}
	web, err := grpcweb.NewHandler(gw.Dispatcher, func() grpcweb.Contracts { return snapshotContracts{reg.Snapshot()} }, conn)
	if err != nil {
		t.Fatal(err)
	}
	gw.Start(t, server.WithHTTPHandler(web))
	return &policyGateway{base: "http://" + gw.Addr, addr: gw.Addr, rec: rec, reg: reg}
}

// dialGRPC returns a client connection to the gateway, closed when the test
// ends. localIP, when set, is the source address of its connections.
func (g *policyGateway) dialGRPC(t *testing.T, localIP string) *grpc.ClientConn {
	t.Helper()
	var opts []grpc.DialOption
	if localIP != "" {
		dialer := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(localIP)}}
		opts = append(opts, grpc.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) {
			return dialer.DialContext(ctx, "tcp", addr)
		}))
	}
	return gatewaytest.Dial(t, "passthrough:///"+g.addr, opts...)
}

// httpClients returns an HTTP/1.1 and an h2c (HTTP/2 without TLS, prior
// knowledge) client; localIP, when set, is their source address.
func httpClients(t *testing.T, localIP string) map[string]*http.Client {
	t.Helper()
	out := map[string]*http.Client{}
	for _, name := range []string{"http1", "h2c"} {
		tr := &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: 8}
		if localIP != "" {
			tr.DialContext = (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(localIP)}}).DialContext
		}
		if name == "h2c" {
			var p http.Protocols
			p.SetUnencryptedHTTP2(true)
			tr.Protocols = &p
		}
		t.Cleanup(tr.CloseIdleConnections)
		out[name] = &http.Client{Transport: tr, Timeout: 30 * time.Second}
	}
	return out
}

// credential is how a test call authenticates.
type credential struct {
	name   string
	bearer string // JWT, or ""
	apiKey string // API key, or ""
}

// grpcMD adds the metadata presenting c to md.
func (c credential) grpcMD(md metadata.MD) {
	if c.bearer != "" {
		md.Set("authorization", "Bearer "+c.bearer)
	}
	if c.apiKey != "" {
		md.Set("x-api-key", c.apiKey)
	}
}

// restHeader returns the HTTP headers presenting c. The API key travels as
// Grpc-Metadata-X-Api-Key: see TestPolicyRESTCredentialHeaders for the
// plain header.
func (c credential) restHeader() http.Header {
	h := http.Header{}
	if c.bearer != "" {
		h.Set("Authorization", "Bearer "+c.bearer)
	}
	if c.apiKey != "" {
		h.Set("Grpc-Metadata-X-Api-Key", c.apiKey)
	}
	return h
}

func mintToken(t *testing.T, subject string, scopes []string, extra map[string]any) string {
	t.Helper()
	tok, err := authn.MintDemoToken(subject, scopes, time.Hour, extra)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// decision is what the policy made of a call.
type decision string

const (
	unauthenticated decision = "unauthenticated"
	denied          decision = "permission-denied"
	admitted        decision = "admitted"
)

func decisionOfCode(c codes.Code) decision {
	switch c {
	case codes.Unauthenticated:
		return unauthenticated
	case codes.PermissionDenied:
		return denied
	}
	return admitted
}

func decisionOfHTTP(code int) decision {
	switch code {
	case http.StatusUnauthorized:
		return unauthenticated
	case http.StatusForbidden:
		return denied
	}
	return admitted
}

// templateVar matches one variable of a canonical path template.
var templateVar = regexp.MustCompile(`\{([^}=]+)(?:=([^}]*))?\}`)

// concretePath fills every variable of a canonical template with a valid
// value: each "*" becomes one segment, "**" two. The resources named do
// not exist, which keeps admitted calls from changing the library (they
// end NOT_FOUND upstream, or create new resources), so the matrix can run
// in any order.
func concretePath(tmpl string) string {
	n := 0
	return templateVar.ReplaceAllStringFunc(tmpl, func(v string) string {
		m := templateVar.FindStringSubmatch(v)
		pat := m[2]
		if pat == "" {
			pat = "*"
		}
		segs := strings.Split(pat, "/")
		for i, s := range segs {
			n++
			switch s {
			case "*":
				segs[i] = "x" + strconv.Itoa(n)
			case "**":
				segs[i] = "deep/x" + strconv.Itoa(n)
			}
		}
		return strings.Join(segs, "/")
	})
}

// restBody is a minimal valid body for a route.
func restBody(r transcoding.Route) (string, string) {
	switch {
	case r.Body == "":
		return "", ""
	case strings.HasSuffix(r.Method, "/UploadBook"):
		return "hello", "text/plain"
	default:
		return "{}", "application/json"
	}
}

// restCall makes one REST call tagged id and returns its status code, body
// and header. Its 30s (as the other calls' here) is a bound for failure
// only: the policy suites make hundreds of calls in parallel, and 5s was
// not enough on a loaded 2-core machine.
func restCall(t *testing.T, c *http.Client, method, url, body, ctype, id string, hdr http.Header) (int, []byte, http.Header) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range hdr {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	req.Header.Set("Grpc-Metadata-"+testIDKey, id)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	// A stream may go on (WatchShelf): what the first bytes say is enough.
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	return resp.StatusCode, b, resp.Header
}

// grpcCall calls method over gRPC with an empty request message, whatever
// its kind, tagged id, and returns the status the call ended with.
func grpcCall(ctx context.Context, conn *grpc.ClientConn, method string, clientStreams, serverStreams bool, md metadata.MD) (*status.Status, metadata.MD) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	ctx = metadata.NewOutgoingContext(ctx, md)
	var hdr metadata.MD
	desc := &grpc.StreamDesc{ClientStreams: clientStreams, ServerStreams: serverStreams}
	cs, err := conn.NewStream(ctx, desc, method, grpc.Header(&hdr))
	if err != nil {
		return status.Convert(err), hdr
	}
	if err := cs.SendMsg(&emptypb.Empty{}); err != nil && !errors.Is(err, io.EOF) {
		return status.Convert(err), hdr
	}
	if err := cs.CloseSend(); err != nil {
		return status.Convert(err), hdr
	}
	for {
		var resp emptypb.Empty
		err := cs.RecvMsg(&resp)
		if errors.Is(err, io.EOF) {
			return status.New(codes.OK, ""), hdr
		}
		if err != nil {
			return status.Convert(err), hdr
		}
		if !serverStreams {
			return status.New(codes.OK, ""), hdr
		}
	}
}

// snapshotContracts are a registry snapshot as the gRPC-Web handler looks
// methods up (cmd/sluice has the same adapter).
type snapshotContracts struct{ snap *registry.Snapshot }

func (c snapshotContracts) Method(path string) (protoreflect.MethodDescriptor, bool) {
	m, ok := c.snap.Method(path)
	if !ok {
		return nil, false
	}
	return m.Desc, true
}

func (c snapshotContracts) Types() *protoregistry.Types { return c.snap.Types() }

// webCall calls method over gRPC-Web with one empty request message,
// tagged id, and returns the status it ended with (from the trailers-only
// headers or the trailer frame; a server stream that sent a message counts
// as admitted, since it may go on) and the response headers.
func webCall(t *testing.T, c *http.Client, base, method, id string, serverStreams bool, hdr http.Header) (*status.Status, http.Header) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+method, strings.NewReader("\x00\x00\x00\x00\x00"))
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range hdr {
		req.Header[k] = vs
	}
	req.Header.Set("Content-Type", "application/grpc-web+proto")
	req.Header.Set(testIDKey, id)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("grpc-web %s: %v", method, err)
	}
	defer resp.Body.Close()
	fromHeader := func(h http.Header) *status.Status {
		code, err := strconv.Atoi(h.Get("Grpc-Status"))
		if err != nil {
			return status.Newf(codes.Internal, "test: no grpc-status (%v)", h)
		}
		return status.New(codes.Code(code), h.Get("Grpc-Message"))
	}
	if resp.Header.Get("Grpc-Status") != "" {
		return fromHeader(resp.Header), resp.Header
	}
	var prefix [5]byte
	for {
		if _, err := io.ReadFull(resp.Body, prefix[:]); err != nil {
			return status.Newf(codes.Internal, "test: response ended without a status: %v", err), resp.Header
		}
		payload := make([]byte, int(prefix[1])<<24|int(prefix[2])<<16|int(prefix[3])<<8|int(prefix[4]))
		if _, err := io.ReadFull(resp.Body, payload); err != nil {
			return status.Newf(codes.Internal, "test: cut frame: %v", err), resp.Header
		}
		if prefix[0]&0x80 == 0 {
			if serverStreams {
				return status.New(codes.OK, ""), resp.Header
			}
			continue
		}
		trailers := http.Header{}
		for _, line := range strings.Split(string(payload), "\r\n") {
			if k, v, ok := strings.Cut(line, ": "); ok {
				trailers.Add(k, v)
			}
		}
		return fromHeader(trailers), resp.Header
	}
}

// grpcKind reports the streaming kind of a demo method.
func grpcKind(t *testing.T, reg *registry.Registry, path string) (clientStreams, serverStreams bool) {
	t.Helper()
	m, ok := reg.Snapshot().Method(path)
	if !ok {
		t.Fatalf("method %s not in the registry", path)
	}
	return m.Desc.IsStreamingClient(), m.Desc.IsStreamingServer()
}

// TestPolicyNoBypass calls every method of the demo API by gRPC, by
// gRPC-Web, by the Connect protocol and by every HTTP binding (HTTP/1.1
// and h2c) with no credentials, with
// credentials lacking what the method needs and with the right ones, and
// checks that the decision is the same everywhere and that refused calls
// never reach the upstream (issue 5, acceptance 2).
func TestPolicyNoBypass(t *testing.T) {
	gatewaytest.CheckLeaks(t)
	g := startPolicyGateway(t, gatewayOptions{})
	conn := g.dialGRPC(t, "")
	clients := httpClients(t, "")

	routes, err := transcoding.BuildRoutes(g.reg.Snapshot())
	if err != nil {
		t.Fatal(err)
	}
	bindings := map[string][]transcoding.Route{}
	for _, r := range routes.List() {
		bindings[r.Method] = append(bindings[r.Method], r)
	}

	readTok := mintToken(t, "reader", []string{readScope}, nil)
	writeTok := mintToken(t, "writer", []string{writeScope}, map[string]any{"role": "editor"})
	adminTok := mintToken(t, "boss", []string{writeScope}, map[string]any{"role": "admin"})
	creds := []credential{
		{name: "none"},
		{name: "read-scope", bearer: readTok},
		{name: "write-scope", bearer: writeTok},
		{name: "write-admin", bearer: adminTok},
		{name: "api-key-read", apiKey: apiKeyReporter},
		{name: "api-key-write", apiKey: apiKeyCI},
	}

	// want is the decision the policy must make for a method and credential.
	want := func(method, cred string) decision {
		switch {
		case isAnonymous(method):
			return admitted
		case cred == "none":
			return unauthenticated
		case cred == "read-scope" || cred == "api-key-read":
			return denied
		case (cred == "write-scope" || cred == "api-key-write") && method == svcPrefix+"DeleteShelf":
			return denied // no role claim
		}
		return admitted
	}

	methods := g.reg.Snapshot().Methods()
	var demoMethods []string
	for _, m := range methods {
		if strings.HasPrefix(m.Path, svcPrefix) {
			demoMethods = append(demoMethods, m.Path)
		}
	}
	if len(demoMethods) != 17 {
		t.Fatalf("demo API has %d methods, want 17: %v", len(demoMethods), demoMethods)
	}
	for _, method := range demoMethods {
		if len(bindings[method]) == 0 {
			t.Errorf("%s has no HTTP binding", method)
		}
		for _, cr := range creds {
			t.Run(strings.TrimPrefix(method, svcPrefix)+"/"+cr.name, func(t *testing.T) {
				t.Parallel()
				exp := want(method, cr.name)
				check := func(via string, got decision, id string, detail string) {
					t.Helper()
					if got != exp {
						t.Errorf("%s: decision %s, want %s (%s)", via, got, exp, detail)
					}
					reached := g.rec.methods(id)
					switch {
					case exp != admitted && len(reached) > 0:
						t.Errorf("%s: refused call reached the upstream as %v", via, reached)
					case len(reached) > 0 && !slices.Equal(reached, []string{method}):
						t.Errorf("%s: reached the upstream as %v, want %s", via, reached, method)
					}
				}

				// gRPC.
				id := newTestID("grpc")
				md := metadata.Pairs(testIDKey, id)
				cr.grpcMD(md)
				cli, srv := grpcKind(t, g.reg, method)
				st, hdr := grpcCall(context.Background(), conn, method, cli, srv, md)
				check("grpc", decisionOfCode(st.Code()), id, st.Code().String()+": "+st.Message())
				if exp == admitted && len(g.rec.methods(id)) == 0 {
					t.Errorf("grpc: admitted call never reached the upstream (%v)", st)
				}
				if exp == unauthenticated && len(hdr.Get(authn.ChallengeKey)) == 0 {
					t.Errorf("grpc: UNAUTHENTICATED without a %s header", authn.ChallengeKey)
				}

				// gRPC-Web, over HTTP/1.1 and h2c: its headers are its
				// metadata, as gRPC's are.
				for _, proto := range []string{"http1", "h2c"} {
					id := newTestID("web")
					hdr := http.Header{}
					if cr.bearer != "" {
						hdr.Set("Authorization", "Bearer "+cr.bearer)
					}
					if cr.apiKey != "" {
						hdr.Set("X-Api-Key", cr.apiKey)
					}
					st, respHdr := webCall(t, clients[proto], g.base, method, id, srv, hdr)
					via := "grpc-web " + proto
					check(via, decisionOfCode(st.Code()), id, st.Code().String()+": "+st.Message())
					if exp == admitted && len(g.rec.methods(id)) == 0 {
						t.Errorf("%s: admitted call never reached the upstream (%v)", via, st)
					}
					if exp == unauthenticated && respHdr.Get(authn.ChallengeKey) == "" {
						t.Errorf("%s: UNAUTHENTICATED without a %s header (%v)", via, authn.ChallengeKey, respHdr)
					}
				}

				// The Connect protocol: POST (proto, JSON), GET where
				// allowed, streams; HTTP/1.1 and h2c.
				m, _ := g.reg.Snapshot().Method(method)
				checkConnect(t, g, m, cr, clients, exp, check)

				// Every HTTP binding, HTTP/1.1 and h2c.
				for _, r := range bindings[method] {
					for _, proto := range []string{"http1", "h2c"} {
						id := newTestID("rest")
						hdr := cr.restHeader()
						body, ctype := restBody(r)
						url := g.base + concretePath(r.Template)
						via := fmt.Sprintf("%s %s %s", proto, r.HTTPMethod, url)
						code, respBody, respHdr := restCall(t, clients[proto], r.HTTPMethod, url, body, ctype, id, hdr)
						check(via, decisionOfHTTP(code), id, fmt.Sprintf("%d %s", code, respBody))
						if exp != admitted && code/100 == 2 {
							t.Errorf("%s: %d for a refused call", via, code)
						}
						if exp == unauthenticated && respHdr.Get("WWW-Authenticate") == "" {
							t.Errorf("%s: 401 without WWW-Authenticate (headers %v)", via, respHdr)
						}
						// Streaming bindings the transcoder does not serve
						// may answer 501 without calling; anything else
						// admitted must have reached the upstream.
						if exp == admitted && code != http.StatusNotImplemented && len(g.rec.methods(id)) == 0 {
							t.Errorf("%s: admitted call (%d %s) never reached the upstream", via, code, respBody)
						}
					}
					// WebSocket, for the bindings of streaming methods.
					if cli || srv {
						id := newTestID("ws")
						body, _ := restBody(r)
						via := "websocket " + concretePath(r.Template)
						got, detail := wsCall(t, g.addr, concretePath(r.Template), body, id, cr.restHeader())
						check(via, got, id, detail)
						if exp == admitted && len(g.rec.methods(id)) == 0 {
							t.Errorf("%s: admitted call (%s) never reached the upstream", via, detail)
						}
					}
				}
			})
		}
	}
}

// rawHTTP sends one HTTP/1.1 request exactly as written (no client-side
// path cleaning) and returns the response status code.
func rawHTTP(t *testing.T, addr, method, target string, hdr map[string]string, body string) int {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\nContent-Length: %d\r\n", method, target, addr, len(body))
	for k, v := range hdr {
		fmt.Fprintf(&b, "%s: %s\r\n", k, v)
	}
	b.WriteString("\r\n")
	b.WriteString(body)
	if _, err := io.WriteString(c, b.String()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), &http.Request{Method: method})
	if err != nil {
		t.Fatalf("%s %s: %v", method, target, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

// TestPolicyCraftedPaths sends requests without credentials whose paths,
// methods or headers try to confuse route matching into a protected
// method, over HTTP and gRPC, and checks at the upstream that none reached
// one (issue 5, acceptance 2).
func TestPolicyCraftedPaths(t *testing.T) {
	gatewaytest.CheckLeaks(t)
	g := startPolicyGateway(t, gatewayOptions{})
	conn := g.dialGRPC(t, "")

	const book = "/v1/shelves/classics/books/moby-dick"
	type craftedReq struct {
		method, target string
		hdr            map[string]string
		body           string
	}
	reqs := []craftedReq{
		// Encoded slashes.
		{"DELETE", "/v1/shelves%2Fclassics", nil, ""},
		{"DELETE", "/v1/shelves%2fclassics", nil, ""},
		{"DELETE", "/v1/shelves/classics%2Fbooks%2Fmoby-dick", nil, ""},
		{"POST", "/v1/shelves%2Fclassics/books", nil, "{}"},
		{"GET", "/v1/shelves/classics%2F..%2F..%2Fshelves", nil, ""},
		// Dot segments.
		{"DELETE", "/v1/shelves/classics/books/../../classics", nil, ""},
		{"DELETE", "/v1/shelves/classics/..", nil, ""},
		{"DELETE", "/v1/shelves/./classics", nil, ""},
		{"DELETE", "/v1/shelves/%2e%2e/shelves/classics", nil, ""},
		{"POST", "/v1/shelves/classics/books/moby-dick:download/../moby-dick:publish", nil, "{}"},
		{"GET", book + "/../moby-dick:publish", nil, ""},
		// Doubled slashes.
		{"DELETE", "//v1/shelves/classics", nil, ""},
		{"DELETE", "/v1//shelves/classics", nil, ""},
		{"DELETE", "/v1/shelves//classics", nil, ""},
		{"POST", "/v1//shelves", nil, "{}"},
		// Case changes.
		{"DELETE", "/V1/shelves/classics", nil, ""},
		{"DELETE", "/v1/SHELVES/classics", nil, ""},
		{"POST", "/V1/SHELVES", nil, "{}"},
		{"delete", "/v1/shelves/classics", nil, ""},
		{"Delete", "/v1/shelves/classics", nil, ""},
		{"post", "/v1/shelves", nil, "{}"},
		// Custom verb tricks.
		{"POST", book + ":publish/", nil, "{}"},
		{"POST", book + "%3Apublish", nil, "{}"},
		{"POST", book + "%3apublish", nil, "{}"},
		{"POST", book + ":publish:publish", nil, "{}"},
		{"POST", book + ":PUBLISH", nil, "{}"},
		{"POST", book + ":Publish", nil, "{}"},
		{"POST", book + ":%70ublish", nil, "{}"},
		{"POST", book + ":publis%68", nil, "{}"},
		{"POST", book + ":publish%00", nil, "{}"},
		{"POST", book + ":publish?x=:download", nil, "{}"},
		{"POST", book + ":publish#frag", nil, "{}"},
		{"GET", book + ":publish", nil, ""},
		{"GET", book + ":download:publish", nil, ""},
		{"POST", book + ":download", nil, "{}"},
		{"POST", "/v1/shelves/classics/books/moby-dick:upload/", nil, "x"},
		{"POST", "/v1/books:import:discuss", nil, "{}"},
		{"POST", "/v1/books%3Aimport", nil, "{}"},
		// Method overrides, HEAD and OPTIONS.
		{"GET", "/v1/shelves/classics", map[string]string{"X-HTTP-Method-Override": "DELETE"}, ""},
		{"GET", "/v1/shelves/classics", map[string]string{"X-HTTP-Method": "DELETE", "X-Method-Override": "DELETE"}, ""},
		{"POST", "/v1/shelves/classics", map[string]string{"X-HTTP-Method-Override": "DELETE"}, "{}"},
		{"GET", book, map[string]string{"X-HTTP-Method-Override": "PATCH"}, ""},
		{"HEAD", "/v1/shelves/classics", nil, ""},
		{"HEAD", book + ":publish", nil, ""},
		{"HEAD", "/v1/shelves", nil, ""},
		{"OPTIONS", "/v1/shelves/classics", nil, ""},
		{"OPTIONS", book + ":publish", nil, ""},
		{"OPTIONS", "/v1/shelves", map[string]string{"Origin": "http://evil.example", "Access-Control-Request-Method": "POST"}, ""},
		{"TRACE", "/v1/shelves/classics", nil, ""},
		{"PATCH", book, nil, "{}"},
		{"PUT", book, nil, "{}"},
		// Absolute-form target.
		{"DELETE", "http://" + g.addr + "/v1/shelves/classics", nil, ""},
	}
	for _, r := range reqs {
		t.Run(r.method+" "+r.target, func(t *testing.T) {
			t.Parallel()
			id := newTestID("crafted")
			hdr := map[string]string{"Grpc-Metadata-" + testIDKey: id}
			for k, v := range r.hdr {
				hdr[k] = v
			}
			code := rawHTTP(t, g.addr, r.method, r.target, hdr, r.body)
			t.Logf("HTTP %d, upstream saw %v", code, g.rec.methods(id))
			for _, m := range g.rec.methods(id) {
				if !isAnonymous(m) {
					t.Errorf("%s %s without credentials reached %s at the upstream (HTTP %d)", r.method, r.target, m, code)
				}
			}
			if code/100 == 2 && len(g.rec.methods(id)) == 0 && r.method != "OPTIONS" && r.method != "HEAD" {
				t.Errorf("%s %s: HTTP %d without reaching the upstream", r.method, r.target, code)
			}
		})
	}

	grpcPaths := []string{
		librarySvc + "/DeleteShelf",
		"//" + librarySvc + "/DeleteShelf",
		svcPrefix + "DeleteShelf/",
		svcPrefix + "deleteShelf",
		svcPrefix + "DELETESHELF",
		svcPrefix + "Delete%53helf",
		svcPrefix + "GetShelf/../DeleteShelf",
		svcPrefix + "GetShelf/../../" + librarySvc + "/DeleteShelf",
		"/" + librarySvc + ".GetShelf/../" + librarySvc + "/DeleteShelf",
		"/Sluice.Demo.Library.V1.LibraryService/DeleteShelf",
		svcPrefix + "DeleteShelf%00",
		svcPrefix + "DeleteShelf ",
		svcPrefix + "GetShelf\x00/DeleteShelf",
		svcPrefix + "DeleteShelf?x=GetShelf",
		"/v1/shelves/classics",
	}
	for _, p := range grpcPaths {
		t.Run("grpc "+strconv.Quote(p), func(t *testing.T) {
			t.Parallel()
			id := newTestID("crafted-grpc")
			ctx := metadata.AppendToOutgoingContext(context.Background(), testIDKey, id)
			ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			err := conn.Invoke(ctx, p, &libraryv1.DeleteShelfRequest{Name: demo.SeedShelfClassics}, &libraryv1.DeleteShelfResponse{})
			t.Logf("%v, upstream saw %v", status.Code(err), g.rec.methods(id))
			if err == nil {
				t.Errorf("%q without credentials succeeded", p)
			}
			for _, m := range g.rec.methods(id) {
				if !isAnonymous(m) {
					t.Errorf("%q without credentials reached %s at the upstream (%v)", p, m, err)
				}
			}
		})
	}
}

// TestPolicyIdentitySpoofing sends x-sluice-subject: admin every way a
// client can, with and without a valid token, and checks that the
// upstream sees only the verified identity (issue 5, acceptance 3).
func TestPolicyIdentitySpoofing(t *testing.T) {
	gatewaytest.CheckLeaks(t)
	g := startPolicyGateway(t, gatewayOptions{})
	conn := g.dialGRPC(t, "")
	clients := httpClients(t, "")
	tok := mintToken(t, "alice", []string{writeScope}, nil)
	keys := []string{"x-sluice-subject", "x-sluice-provider", "x-sluice-scopes"}

	type attempt struct {
		name  string
		token string
	}
	for _, a := range []attempt{{"anonymous", ""}, {"token", tok}} {
		wantSubject := []string(nil)
		if a.token != "" {
			wantSubject = []string{"alice"}
		}
		verify := func(t *testing.T, via, id string) {
			t.Helper()
			seen := g.rec.seen(id)
			if len(seen) != 1 {
				t.Fatalf("%s: %d calls reached the upstream, want 1", via, len(seen))
			}
			md := seen[0].md
			if got := md.Get("x-sluice-subject"); !slices.Equal(got, wantSubject) {
				t.Errorf("%s: upstream saw x-sluice-subject %q, want %q", via, got, wantSubject)
			}
			for k, vs := range md {
				for _, v := range vs {
					if strings.Contains(v, "admin") {
						t.Errorf("%s: upstream saw %s: %q", via, k, v)
					}
				}
			}
			if a.token != "" {
				if got := md.Get("x-sluice-provider"); !slices.Equal(got, []string{config.ProviderJWT}) {
					t.Errorf("%s: upstream saw x-sluice-provider %q, want jwt", via, got)
				}
				if got := md.Get("x-sluice-scopes"); !slices.Equal(got, []string{writeScope}) {
					t.Errorf("%s: upstream saw x-sluice-scopes %q, want %q", via, got, writeScope)
				}
			}
			if got := md.Get("authorization"); len(got) > 0 {
				t.Errorf("%s: upstream saw the credential (authorization %d values)", via, len(got))
			}
		}

		t.Run(a.name+"/grpc", func(t *testing.T) {
			id := newTestID("spoof")
			md := metadata.Pairs(testIDKey, id)
			for _, k := range keys {
				md.Append(k, "admin")
				md.Append("grpc-metadata-"+k, "admin")
			}
			if a.token != "" {
				md.Set("authorization", "Bearer "+a.token)
			}
			ctx, cancel := context.WithTimeout(metadata.NewOutgoingContext(context.Background(), md), 30*time.Second)
			defer cancel()
			// GetShelf is anonymous: both attempts reach the upstream.
			_, err := libraryv1.NewLibraryServiceClient(conn).GetShelf(ctx, &libraryv1.GetShelfRequest{Name: demo.SeedShelfClassics})
			if err != nil {
				t.Fatal(err)
			}
			verify(t, "grpc", id)
		})
		for proto, c := range clients {
			t.Run(a.name+"/"+proto, func(t *testing.T) {
				for _, style := range []string{"plain", "grpc-metadata", "both"} {
					id := newTestID("spoof")
					hdr := http.Header{}
					for _, k := range keys {
						if style != "grpc-metadata" {
							hdr.Add(k, "admin")
						}
						if style != "plain" {
							hdr.Add("Grpc-Metadata-"+k, "admin")
						}
					}
					if a.token != "" {
						hdr.Set("Authorization", "Bearer "+a.token)
					}
					code, body, _ := restCall(t, c, "GET", g.base+"/v1/"+demo.SeedShelfClassics, "", "", id, hdr)
					if code != http.StatusOK {
						t.Fatalf("%s: %d %s", style, code, body)
					}
					verify(t, proto+" "+style, id)
				}
			})
		}
	}
}

// decodeStatusBody decodes a google.rpc.Status JSON error body.
func decodeStatusBody(t *testing.T, b []byte) *spb.Status {
	t.Helper()
	var st spb.Status
	if err := protojson.Unmarshal(b, &st); err != nil {
		t.Fatalf("error body %q is not a google.rpc.Status: %v", b, err)
	}
	return &st
}

// TestPolicyRESTDeadlines checks Grpc-Timeout over REST: a slow upstream
// ends with 504 and DEADLINE_EXCEEDED (and sees its context end), and
// malformed timeouts are refused with 400 before reaching the upstream
// (issue 5, acceptance 4).
func TestPolicyRESTDeadlines(t *testing.T) {
	gatewaytest.CheckLeaks(t)
	g := startPolicyGateway(t, gatewayOptions{})
	clients := httpClients(t, "")
	url := g.base + "/v1/" + demo.SeedShelfClassics

	for proto, c := range clients {
		t.Run(proto+"/slow upstream", func(t *testing.T) {
			t.Parallel()
			id := newTestID("deadline")
			hdr := http.Header{"Grpc-Timeout": {"100m"}, "Grpc-Metadata-X-Demo-Delay": {"60s"}}
			start := time.Now()
			code, body, _ := restCall(t, c, "GET", url, "", "", id, hdr)
			if took := time.Since(start); took > 30*time.Second { // the upstream would sleep a minute
				t.Errorf("answered after %v, want about 100ms", took)
			}
			if code != http.StatusGatewayTimeout {
				t.Fatalf("%d %s, want 504", code, body)
			}
			if st := decodeStatusBody(t, body); codes.Code(st.GetCode()) != codes.DeadlineExceeded {
				t.Errorf("body code %d (%s), want %d", st.GetCode(), st.GetMessage(), codes.DeadlineExceeded)
			}
			seen := g.rec.seen(id)
			if len(seen) != 1 {
				t.Fatalf("%d calls reached the upstream, want 1", len(seen))
			}
			select {
			case <-seen[0].done:
				if seen[0].ctxErr == nil {
					t.Error("the upstream handler returned with its context still live")
				}
			case <-time.After(20 * time.Second):
				t.Error("the upstream call did not end within 20s of the deadline")
			}
		})
	}
	// A malformed value gets grpc-go's answer to the same value on native
	// gRPC (INTERNAL), with HTTP 400; a huge one is clamped (below).
	for _, v := range []string{"-5S", "999999999H", "1x", "", "1.5S", "0x1S", "1s"} {
		t.Run("malformed "+strconv.Quote(v), func(t *testing.T) {
			t.Parallel()
			id := newTestID("deadline")
			code, body, _ := restCall(t, clients["http1"], "GET", url, "", "", id, http.Header{"Grpc-Timeout": {v}})
			if code != http.StatusBadRequest {
				t.Errorf("Grpc-Timeout %q: %d %s, want 400", v, code, body)
			} else if st := decodeStatusBody(t, body); codes.Code(st.GetCode()) != codes.Internal {
				t.Errorf("Grpc-Timeout %q: body code %d, want %d", v, st.GetCode(), codes.Internal)
			}
			if n := len(g.rec.seen(id)); n != 0 {
				t.Errorf("Grpc-Timeout %q: the call reached the upstream", v)
			}
		})
	}
	t.Run("huge value clamped", func(t *testing.T) {
		t.Parallel()
		id := newTestID("deadline")
		code, body, _ := restCall(t, clients["http1"], "GET", url, "", "", id, http.Header{"Grpc-Timeout": {"99999999H"}})
		if code != http.StatusOK {
			t.Errorf("Grpc-Timeout 99999999H: %d %s, want 200 (clamped, as native gRPC clamps it)", code, body)
		}
	})
	// Issue 5 lets REST callers use X-Request-Timeout as well, parsed as
	// strictly (interceptors/deadline reads it from the metadata).
	t.Run("X-Request-Timeout slow upstream", func(t *testing.T) {
		t.Parallel()
		id := newTestID("deadline")
		hdr := http.Header{"X-Request-Timeout": {"100m"}, "Grpc-Metadata-X-Demo-Delay": {"1s"}}
		code, body, _ := restCall(t, clients["http1"], "GET", url, "", "", id, hdr)
		if code != http.StatusGatewayTimeout {
			t.Errorf("X-Request-Timeout 100m to a 1s upstream: %d %s, want 504", code, body)
		}
	})
	t.Run("X-Request-Timeout malformed", func(t *testing.T) {
		t.Parallel()
		id := newTestID("deadline")
		code, body, _ := restCall(t, clients["http1"], "GET", url, "", "", id, http.Header{"X-Request-Timeout": {"-5S"}})
		if code != http.StatusBadRequest {
			t.Errorf("X-Request-Timeout -5S: %d %s, want 400", code, body)
		}
	})
	t.Run("duplicated", func(t *testing.T) {
		t.Parallel()
		id := newTestID("deadline")
		code, body, _ := restCall(t, clients["http1"], "GET", url, "", "", id, http.Header{"Grpc-Timeout": {"1S", "2S"}})
		if code != http.StatusBadRequest {
			t.Errorf("two Grpc-Timeout values: %d %s, want 400", code, body)
		}
		if n := len(g.rec.seen(id)); n != 0 {
			t.Error("two Grpc-Timeout values: the call reached the upstream")
		}
	})
}

// TestPolicyRESTCredentialHeaders checks that the headers the
// configuration documents for REST reach the policies with the REST
// options of `sluice serve`: the API key header (policy.authn.api_keys.header,
// "REST: HTTP header") authenticates.
func TestPolicyRESTCredentialHeaders(t *testing.T) {
	gatewaytest.CheckLeaks(t)
	g := startPolicyGateway(t, gatewayOptions{})
	c := httpClients(t, "")["http1"]
	for _, tc := range []struct {
		name string
		hdr  http.Header
	}{
		{"X-Api-Key", http.Header{"X-Api-Key": {apiKeyCI}}},
		{"Grpc-Metadata-X-Api-Key", http.Header{"Grpc-Metadata-X-Api-Key": {apiKeyCI}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id := newTestID("apikey")
			code, body, _ := restCall(t, c, "POST", g.base+"/v1/shelves", `{"shelf":{"displayName":"Poetry"}}`, "application/json", id, tc.hdr)
			if code != http.StatusOK {
				t.Fatalf("CreateShelf with a valid API key in %s: %d %s, want 200", tc.name, code, body)
			}
			seen := g.rec.seen(id)
			if len(seen) != 1 || !slices.Equal(seen[0].md.Get("x-sluice-subject"), []string{"ci-bot"}) {
				t.Errorf("upstream did not see subject ci-bot: %v", seen)
			}
			if len(seen) == 1 && len(seen[0].md.Get("x-api-key")) > 0 {
				t.Error("upstream saw the API key")
			}
		})
	}
}
