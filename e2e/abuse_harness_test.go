package e2e_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
	"google.golang.org/grpc"

	"github.com/sluice-dev/sluice/config"
	"github.com/sluice-dev/sluice/demo"
	libraryv1 "github.com/sluice-dev/sluice/gen/go/sluice/demo/library/v1"
	"github.com/sluice-dev/sluice/interceptors/authn"
	"github.com/sluice-dev/sluice/internal/gatewaytest"
	"github.com/sluice-dev/sluice/internal/jwttest"
	"github.com/sluice-dev/sluice/policy"
	"github.com/sluice-dev/sluice/registry"
	"github.com/sluice-dev/sluice/server"
	"github.com/sluice-dev/sluice/transcoding"
)

// The abuse suite (e2e/abuse_*_test.go, issue 17) attacks a gateway
// configured as users configure it: JWTs verified against a JWKS served
// over HTTP, API keys, authorization with anonymous reads, deadlines of 2s
// by default and 5s at most, a gateway-wide concurrency limit and local
// rate limits, in the chain order of cmd/sluice/policy.go. Clients are raw
// HTTP/2 (h2c prior knowledge, frame by frame) and raw HTTP/1.1
// connections as well as grpc-go and net/http. Every test is bounded in
// time, asserts the answer, that the gateway still serves a normal call
// afterwards and that no goroutine is left behind; floods also bound the
// heap. Nothing asserts speed: time limits are generous bounds for failure.
//
// Counts are small by default so the suite stays well under a minute on
// two cores; SLUICE_ABUSE_FULL=1 runs the large figures of the issue.

const (
	abuseIssuer   = "https://issuer.abuse.test"
	abuseAudience = "sluice-abuse"
	abuseKID      = "abuse-rsa"
	// abuseRoleKey carries the role claim upstream (policy.identity.claims).
	abuseRoleKey = "x-sluice-role"

	// abuseWait bounds every wait of the suite for something that should
	// take milliseconds; only a broken gateway reaches it.
	abuseWait = 20 * time.Second
)

// abuseCount returns small, or full when SLUICE_ABUSE_FULL is set.
func abuseCount(small, full int) int {
	if v, _ := strconv.ParseBool(os.Getenv("SLUICE_ABUSE_FULL")); v {
		return full
	}
	return small
}

// abuseGateway is a gateway with the production chain in front of a
// recording demo upstream that also counts every call started on it.
type abuseGateway struct {
	addr    string // host:port of the gateway
	base    string // http://host:port
	rec     *recorder
	started atomic.Int64 // calls started at the upstream, tagged or not
	chain   *policy.Chain

	key         *rsa.PrivateKey // signs valid tokens; its public half is in the JWKS
	jwksFetches atomic.Int64
	conn        *grpc.ClientConn // a well-behaved grpc-go client
}

type abuseOptions struct {
	maxInFlight int // limits.max_in_flight; 0: 200
}

// startAbuseGateway starts a recording demo upstream, a JWKS server and a
// gateway in front of them, all stopped when the test ends.
func startAbuseGateway(t *testing.T, o abuseOptions) *abuseGateway {
	t.Helper()
	g := &abuseGateway{rec: &recorder{}}
	upstream := startDemo(t,
		grpc.ChainStreamInterceptor(func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
			g.started.Add(1)
			return g.rec.stream(srv, ss, info, h)
		}),
		grpc.ChainUnaryInterceptor(func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			g.started.Add(1)
			return g.rec.unary(ctx, req, info, h)
		}))

	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	g.key = key
	jwk, err := jwkset.NewJWKFromKey(&key.PublicKey, jwkset.JWKOptions{Metadata: jwkset.JWKMetadataOptions{KID: abuseKID, ALG: jwkset.AlgRS256}})
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jwksDoc(jwk)
	if err != nil {
		t.Fatal(err)
	}
	jwks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		g.jwksFetches.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(doc)
	}))
	t.Cleanup(func() {
		jwks.Client().CloseIdleConnections()
		jwks.Close()
	})

	reg, err := registry.New(registry.Linked(libraryv1.File_sluice_demo_library_v1_library_proto))
	if err != nil {
		t.Fatal(err)
	}
	pol := demoPolicy()
	pol.Authn.JWT.JWKSURL = jwks.URL
	pol.Authn.JWT.Issuer = abuseIssuer
	pol.Authn.JWT.Audiences = []string{abuseAudience}
	pol.Identity.Claims = []config.ClaimKey{{Claim: "role", Key: abuseRoleKey}}
	pol.Deadline.Default = config.Duration(2 * time.Second)
	pol.Deadline.Max = config.Duration(5 * time.Second)

	// Writes: 50 per second per identity; reads: generous per client
	// address, so that the floods below meet the limit only where they
	// would in production.
	cfg := config.Default()
	cfg.Policy = pol
	cfg.RateLimits.Limits = []config.RateLimit{
		{Name: "writes", Methods: []string{librarySvc + ".Create*", librarySvc + ".Update*", librarySvc + ".Delete*"}, Key: config.RateLimitKeyIdentity, Rate: 50, Burst: 50},
		{Name: "reads", Methods: []string{librarySvc + ".Get*", librarySvc + ".List*"}, Key: config.RateLimitKeyClientIP, Rate: 100000, Burst: 100000},
	}
	cfg.Limits.MaxInFlight = o.maxInFlight
	if cfg.Limits.MaxInFlight == 0 {
		cfg.Limits.MaxInFlight = 200
	}
	// The production chain, built where `sluice serve` builds it.
	g.chain, err = policy.Build(&cfg, policy.WithAuthnOptions(authn.WithHTTPClient(jwks.Client())))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.chain.Close)
	chain := g.chain.Interceptors()
	// Unary calls take the proxy's unary path, as with contracts loaded
	// in `sluice serve`.
	kinds := server.WithMethodKinds(func(method string) (bool, bool, bool) {
		m, ok := reg.Snapshot().Method(method)
		if !ok {
			return false, false, false
		}
		return m.ClientStreaming(), m.ServerStreaming(), true
	})
	gw := gatewaytest.NewGatewayWithProxy(t, gatewaytest.Route(upstream, librarySvc), []server.ProxyOption{kinds}, chain...)
	routes, err := transcoding.BuildRoutes(reg.Snapshot())
	if err != nil {
		t.Fatal(err)
	}
	rest, err := transcoding.NewREST(func() *transcoding.Routes { return routes }, gw.Dispatcher,
		transcoding.WithMaxBodyBytes(4<<20),
		transcoding.WithMaxJSONDepth(transcoding.DefaultMaxJSONDepth),
		transcoding.WithExtraIncomingHeaders(g.chain.RESTHeaders()...))
	if err != nil {
		t.Fatal(err)
	}
	// A sniff timeout shorter than the default 10s only so that attacks
	// the front door must time out do not hold the suite up.
	gw.Start(t, server.WithHTTPHandler(rest), server.WithSniffTimeout(3*time.Second))
	g.addr, g.base = gw.Addr, "http://"+gw.Addr
	g.conn = gatewaytest.Dial(t, "passthrough:///"+g.addr)
	return g
}

// jwksDoc is a JSON Web Key Set holding keys.
func jwksDoc(keys ...jwkset.JWK) ([]byte, error) {
	var doc jwkset.JWKSMarshal
	for _, k := range keys {
		doc.Keys = append(doc.Keys, k.Marshal())
	}
	return json.Marshal(doc)
}

// claims are valid claims for subject with scopes, expiring in an hour.
func (g *abuseGateway) claims(subject string, scopes ...string) jwt.MapClaims {
	now := time.Now()
	c := jwt.MapClaims{
		"iss": abuseIssuer, "aud": abuseAudience, "sub": subject,
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	}
	if len(scopes) > 0 {
		c["scope"] = joinScopes(scopes)
	}
	return c
}

// token signs c with the gateway's trusted key.
func (g *abuseGateway) token(t *testing.T, c jwt.MapClaims) string {
	t.Helper()
	return jwttest.Sign(t, jwt.SigningMethodRS256, g.key, abuseKID, c)
}

func joinScopes(s []string) string {
	var b bytes.Buffer
	for i, v := range s {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(v)
	}
	return b.String()
}

// healthy fails the test unless a normal anonymous call over gRPC and one
// over REST both succeed: whatever the attack did, the gateway serves.
func (g *abuseGateway) healthy(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), abuseWait)
	defer cancel()
	if _, err := libraryv1.NewLibraryServiceClient(g.conn).GetShelf(ctx, &libraryv1.GetShelfRequest{Name: demo.SeedShelfClassics}); err != nil {
		t.Errorf("a normal gRPC call after the attack: %v", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, g.base+"/v1/"+demo.SeedShelfClassics, nil)
	if err != nil {
		t.Fatal(err)
	}
	tr := &http.Transport{DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		t.Errorf("a normal REST call after the attack: %v", err)
		return
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Errorf("a normal REST call after the attack: HTTP %d", resp.StatusCode)
	}
}

// heapInuse returns the heap in use after a full collection.
func heapInuse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

// checkHeapGrowth fails the test if the heap in use grew by more than
// limit since before (both after a collection). The bounds are generous:
// they catch memory held per frame or per byte of an attack, not noise.
func checkHeapGrowth(t *testing.T, what string, before uint64, limit uint64) {
	t.Helper()
	var after uint64
	// Buffers of connections just closed take a moment to become garbage.
	for deadline := time.Now().Add(abuseWait); ; time.Sleep(50 * time.Millisecond) {
		after = heapInuse()
		if after <= before+limit || time.Now().After(deadline) {
			break
		}
	}
	if after > before+limit {
		t.Errorf("%s: heap in use grew from %d to %d bytes (more than %d)", what, before, after, limit)
	}
	t.Logf("%s: heap in use %d -> %d bytes", what, before, after)
}

// h2Conn is a raw HTTP/2 client connection (h2c, prior knowledge) that
// writes exactly the frames a test asks for. A background reader answers
// SETTINGS and records what the server sends, so the server is never
// blocked on its writes by the test.
type h2Conn struct {
	t    *testing.T
	c    net.Conn
	wmu  sync.Mutex
	fr   *http2.Framer
	enc  *hpack.Encoder
	hbuf bytes.Buffer
	next uint32 // next client stream id

	mu      sync.Mutex
	cond    *sync.Cond // signalled when a send window grows or the connection ends
	streams map[uint32]*h2Stream
	// Send windows (RFC 9113 section 6.9): the connection's, the initial
	// one of new streams (the server's SETTINGS_INITIAL_WINDOW_SIZE) and
	// each stream's in h2Stream.window.
	connWindow, initWindow int64
	goAway                 *http2.GoAwayFrame
	frames                 int // frames received
	closed                 chan struct{}
	readErr                error
}

// h2Stream is what the server sent on one stream.
type h2Stream struct {
	headers []hpack.HeaderField // every header and trailer field, in order
	data    int                 // DATA payload bytes
	ended   bool                // END_STREAM seen
	rst     *http2.ErrCode
	done    chan struct{} // closed when ended or reset
	window  int64         // what the client may still send on it
}

// dialH2 opens a raw HTTP/2 connection to addr and sends the client
// preface and an empty SETTINGS frame.
func dialH2(t *testing.T, addr string) *h2Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, abuseWait)
	if err != nil {
		t.Fatal(err)
	}
	h := &h2Conn{t: t, c: c, next: 1, streams: map[uint32]*h2Stream{}, closed: make(chan struct{}),
		connWindow: 65535, initWindow: 65535}
	h.cond = sync.NewCond(&h.mu)
	h.fr = http2.NewFramer(c, c)
	h.fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	h.fr.MaxHeaderListSize = 1 << 20
	h.enc = hpack.NewEncoder(&h.hbuf)
	if _, err := io.WriteString(c, http2.ClientPreface); err != nil {
		t.Fatal(err)
	}
	if err := h.fr.WriteSettings(); err != nil {
		t.Fatal(err)
	}
	go h.read()
	t.Cleanup(func() {
		_ = c.Close()
		<-h.closed
	})
	return h
}

func (h *h2Conn) read() {
	defer close(h.closed)
	for {
		f, err := h.fr.ReadFrame()
		if err != nil {
			h.mu.Lock()
			h.readErr = err
			for _, s := range h.streams {
				select {
				case <-s.done:
				default:
					close(s.done)
				}
			}
			h.cond.Broadcast()
			h.mu.Unlock()
			return
		}
		h.mu.Lock()
		h.frames++
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if v, ok := f.Value(http2.SettingInitialWindowSize); ok && !f.IsAck() {
				for _, s := range h.streams {
					s.window += int64(v) - h.initWindow
				}
				h.initWindow = int64(v)
				h.cond.Broadcast()
			}
			if !f.IsAck() {
				h.mu.Unlock()
				h.write(func() error { return h.fr.WriteSettingsAck() })
				h.mu.Lock()
			}
		case *http2.GoAwayFrame:
			h.goAway = f
		case *http2.WindowUpdateFrame:
			if f.StreamID == 0 {
				h.connWindow += int64(f.Increment)
			} else {
				h.stream(f.StreamID).window += int64(f.Increment)
			}
			h.cond.Broadcast()
		case *http2.MetaHeadersFrame:
			s := h.stream(f.StreamID)
			s.headers = append(s.headers, f.Fields...)
			if f.StreamEnded() {
				s.end()
			}
		case *http2.DataFrame:
			s := h.stream(f.StreamID)
			s.data += len(f.Data())
			if f.StreamEnded() {
				s.end()
			}
		case *http2.RSTStreamFrame:
			s := h.stream(f.StreamID)
			code := f.ErrCode
			s.rst = &code
			s.end()
		}
		h.mu.Unlock()
	}
}

// stream returns the record of stream id; h.mu is held.
func (h *h2Conn) stream(id uint32) *h2Stream {
	s := h.streams[id]
	if s == nil {
		s = &h2Stream{done: make(chan struct{}), window: h.initWindow}
		h.streams[id] = s
	}
	return s
}

func (s *h2Stream) end() {
	if !s.ended {
		s.ended = true
		close(s.done)
	}
}

// write runs one framer write under the write lock and returns its error:
// a server that closed the connection is an expected outcome of most
// attacks, so callers decide what a failed write means.
func (h *h2Conn) write(fn func() error) error {
	h.wmu.Lock()
	defer h.wmu.Unlock()
	_ = h.c.SetWriteDeadline(time.Now().Add(abuseWait))
	return fn()
}

// block encodes header fields given as name, value pairs. The encoder's
// dynamic table changes with each block, so blocks must be sent in the
// order they were encoded: open does both under the write lock; callers
// of block send from one goroutine.
func (h *h2Conn) block(kv ...string) []byte {
	h.wmu.Lock()
	defer h.wmu.Unlock()
	return h.encode(kv...)
}

// encode is block with h.wmu held.
func (h *h2Conn) encode(kv ...string) []byte {
	h.hbuf.Reset()
	for i := 0; i+1 < len(kv); i += 2 {
		_ = h.enc.WriteField(hpack.HeaderField{Name: kv[i], Value: kv[i+1]})
	}
	return bytes.Clone(h.hbuf.Bytes())
}

// grpcHeaders returns the header fields of a gRPC call of path, then
// extra pairs.
func grpcHeaders(authority, path string, extra ...string) []string {
	return append([]string{
		":method", "POST", ":scheme", "http", ":authority", authority, ":path", path,
		"content-type", "application/grpc", "te", "trailers",
	}, extra...)
}

// restHeaders returns the header fields of a REST request.
func restHeaders(authority, method, path string, extra ...string) []string {
	return append([]string{":method", method, ":scheme", "http", ":authority", authority, ":path", path}, extra...)
}

// open starts a new stream with the header fields kv and returns its id.
// endStream ends the request with the headers. Stream ids, header
// compression and the HEADERS frame go together under the write lock, so
// open is safe for concurrent use.
func (h *h2Conn) open(endStream bool, kv ...string) (uint32, error) {
	h.wmu.Lock()
	defer h.wmu.Unlock()
	id := h.next
	h.next += 2
	blk := h.encode(kv...)
	h.mu.Lock()
	h.stream(id)
	h.mu.Unlock()
	_ = h.c.SetWriteDeadline(time.Now().Add(abuseWait))
	return id, h.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: blk, EndHeaders: true, EndStream: endStream})
}

// grpcMessage returns a gRPC length-prefixed message frame.
func grpcMessage(compressed bool, payload []byte) []byte {
	out := make([]byte, 5+len(payload))
	if compressed {
		out[0] = 1
	}
	out[1], out[2], out[3], out[4] = byte(len(payload)>>24), byte(len(payload)>>16), byte(len(payload)>>8), byte(len(payload))
	copy(out[5:], payload)
	return out
}

// errNoWindow is data's error when the server grants no more flow-control
// window within abuseWait: it stopped reading.
var errNoWindow = errors.New("no flow-control window from the server")

// take waits up to abuseWait for send window on stream id and takes up to
// want bytes of it.
func (h *h2Conn) take(id uint32, want int) (int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := h.stream(id)
	stop := time.AfterFunc(abuseWait, func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		h.cond.Broadcast()
	})
	defer stop.Stop()
	deadline := time.Now().Add(abuseWait)
	for {
		if h.readErr != nil {
			return 0, h.readErr
		}
		if s.rst != nil || s.ended {
			return 0, fmt.Errorf("stream %d ended by the server", id)
		}
		if n := min(int64(want), h.connWindow, s.window); n > 0 {
			h.connWindow -= n
			s.window -= n
			return int(n), nil
		}
		if !time.Now().Before(deadline) {
			return 0, errNoWindow
		}
		h.cond.Wait()
	}
}

// data sends p on stream id in frames of at most 16 KiB, within the
// flow-control windows the server grants.
func (h *h2Conn) data(id uint32, p []byte, endStream bool) error {
	for {
		n := min(len(p), 16<<10)
		if n > 0 {
			var err error
			if n, err = h.take(id, n); err != nil {
				return err
			}
		}
		last := n == len(p)
		if err := h.write(func() error { return h.fr.WriteData(id, endStream && last, p[:n]) }); err != nil {
			return err
		}
		p = p[n:]
		if last {
			return nil
		}
	}
}

// result is how a stream ended, as the server told it.
type h2Result struct {
	status     string // :status
	grpcStatus string // grpc-status, from headers or trailers
	rst        *http2.ErrCode
	data       int
	connClosed bool // the connection ended before the stream did
}

func (r h2Result) String() string {
	s := fmt.Sprintf(":status %q grpc-status %q data %d", r.status, r.grpcStatus, r.data)
	if r.rst != nil {
		s += " RST_STREAM " + r.rst.String()
	}
	if r.connClosed {
		s += " (connection closed)"
	}
	return s
}

// wait waits up to abuseWait for stream id to end and returns how it did.
func (h *h2Conn) wait(id uint32) (h2Result, bool) {
	return h.waitBy(id, time.Now().Add(abuseWait))
}

// waitBy is wait with a deadline, for waits on many streams at once.
func (h *h2Conn) waitBy(id uint32, deadline time.Time) (h2Result, bool) {
	h.mu.Lock()
	s := h.stream(id)
	h.mu.Unlock()
	select {
	case <-s.done:
	case <-time.After(time.Until(deadline)):
		return h2Result{}, false
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	r := h2Result{rst: s.rst, data: s.data, connClosed: !s.ended || h.readErr != nil && s.rst == nil && !hasField(s.headers, "grpc-status") && !hasField(s.headers, ":status")}
	for _, f := range s.headers {
		switch f.Name {
		case ":status":
			r.status = f.Value
		case "grpc-status":
			r.grpcStatus = f.Value
		}
	}
	return r, true
}

func hasField(fs []hpack.HeaderField, name string) bool {
	for _, f := range fs {
		if f.Name == name {
			return true
		}
	}
	return false
}

// waitClosed waits up to abuseWait for the server to close the connection
// and reports whether it did, and the GOAWAY it sent first if any.
func (h *h2Conn) waitClosed() (bool, *http2.GoAwayFrame) {
	select {
	case <-h.closed:
	case <-time.After(abuseWait):
		return false, nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return true, h.goAway
}

// isClosed reports whether the server closed the connection already.
func (h *h2Conn) isClosed() bool {
	select {
	case <-h.closed:
		return true
	default:
		return false
	}
}
