package frontdoor_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"

	"github.com/sluice-dev/sluice/server/frontdoor"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// pki is a throwaway CA with a server certificate for 127.0.0.1 and a
// client certificate.
type pki struct {
	pool   *x509.CertPool
	server tls.Certificate
	client tls.Certificate
}

func newPKI(t testing.TB) *pki {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "frontdoor test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	leaf := func(serial int64, cn string, usage x509.ExtKeyUsage) tls.Certificate {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial),
			Subject:      pkix.Name{CommonName: cn},
			NotBefore:    time.Now().Add(-time.Hour),
			NotAfter:     time.Now().Add(time.Hour),
			KeyUsage:     x509.KeyUsageDigitalSignature,
			ExtKeyUsage:  []x509.ExtKeyUsage{usage},
			IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
	}
	p := &pki{pool: x509.NewCertPool()}
	p.pool.AddCert(ca)
	p.server = leaf(2, "frontdoor server", x509.ExtKeyUsageServerAuth)
	p.client = leaf(3, "client-1", x509.ExtKeyUsageClientAuth)
	return p
}

// clientTLS returns a client config trusting the CA, with the client
// certificate when withCert.
func (p *pki) clientTLS(withCert bool) *tls.Config {
	cfg := &tls.Config{RootCAs: p.pool}
	if withCert {
		cfg.Certificates = []tls.Certificate{p.client}
	}
	return cfg
}

// harness is a door on loopback with a real grpc.Server (health service)
// and an HTTP handler behind it.
type harness struct {
	door *frontdoor.Door
	addr string
	pki  *pki // nil for cleartext

	// entered receives one value per request to /slow, which then waits
	// for release (or for its request context to end).
	entered chan struct{}
	release chan struct{}
}

type harnessOptions struct {
	tls      bool
	sniff    time.Duration
	listener func(net.Listener) net.Listener
	// tlsConfig replaces the door's TLS config built from the pki.
	tlsConfig func(*pki) *tls.Config
	opts      []frontdoor.Option
}

func startHarness(t *testing.T, o harnessOptions) *harness {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if o.listener != nil {
		ln = o.listener(ln)
	}
	h := &harness{
		addr:    ln.Addr().String(),
		entered: make(chan struct{}, 16),
		release: make(chan struct{}),
	}
	var opts []frontdoor.Option
	var gopts []grpc.ServerOption
	if o.tls {
		h.pki = newPKI(t)
		cfg := &tls.Config{
			Certificates: []tls.Certificate{h.pki.server},
			ClientAuth:   tls.VerifyClientCertIfGiven,
			ClientCAs:    h.pki.pool,
		}
		if o.tlsConfig != nil {
			cfg = o.tlsConfig(h.pki)
		}
		opts = append(opts, frontdoor.WithTLS(cfg))
		gopts = append(gopts, grpc.Creds(frontdoor.TransportCredentials()))
	}
	if o.sniff > 0 {
		opts = append(opts, frontdoor.WithSniffTimeout(o.sniff))
	}
	door, err := frontdoor.New(ln, append(opts, o.opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	h.door = door

	gopts = append(gopts, grpc.UnaryInterceptor(reportPeer))
	gs := grpc.NewServer(gopts...)
	healthpb.RegisterHealthServer(gs, health.NewServer())
	hs := &http.Server{Handler: http.HandlerFunc(h.serveHTTP)}

	var wg sync.WaitGroup
	wg.Add(3)
	errs := make(chan error, 3)
	go func() {
		defer wg.Done()
		if err := door.Serve(); err != nil {
			errs <- fmt.Errorf("Serve: %w", err)
		}
	}()
	go func() {
		defer wg.Done()
		if err := door.ServeHTTP(hs); err != nil {
			errs <- fmt.Errorf("ServeHTTP: %w", err)
		}
	}()
	go func() {
		defer wg.Done()
		// ErrServerStopped: the test ended (gs.Stop) before Serve started.
		if err := gs.Serve(door.GRPC()); err != nil && !errors.Is(err, net.ErrClosed) && !errors.Is(err, grpc.ErrServerStopped) {
			errs <- fmt.Errorf("grpc Serve: %w", err)
		}
	}()
	t.Cleanup(func() {
		if err := door.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		gs.Stop()
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
	})
	return h
}

// serveHTTP describes the request it got in response headers.
func (h *harness) serveHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Handler", "http")
	w.Header().Set("X-Proto-Major", strconv.Itoa(r.ProtoMajor))
	w.Header().Set("X-TLS", strconv.FormatBool(r.TLS != nil))
	if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
		w.Header().Set("X-Peer-CN", r.TLS.PeerCertificates[0].Subject.CommonName)
	}
	if r.URL.Path == "/hijack" {
		c, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		defer c.Close()
		h.entered <- struct{}{}
		<-h.release
		_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
		return
	}
	if r.URL.Path == "/slow" {
		h.entered <- struct{}{}
		select {
		case <-h.release:
		case <-r.Context().Done():
			return
		}
	}
	_, _ = io.WriteString(w, "ok")
}

// reportPeer tells the client, in response headers, what peer.AuthInfo the
// server saw.
func reportPeer(ctx context.Context, req any, _ *grpc.UnaryServerInfo, next grpc.UnaryHandler) (any, error) {
	md := metadata.Pairs("x-auth-type", "none")
	if p, ok := peer.FromContext(ctx); ok && p.AuthInfo != nil {
		md.Set("x-auth-type", p.AuthInfo.AuthType())
		if ti, ok := p.AuthInfo.(credentials.TLSInfo); ok {
			md.Set("x-security-level", ti.SecurityLevel.String())
			if len(ti.State.PeerCertificates) > 0 {
				md.Set("x-peer-cn", ti.State.PeerCertificates[0].Subject.CommonName)
			}
		}
	}
	if err := grpc.SetHeader(ctx, md); err != nil {
		return nil, err
	}
	return next(ctx, req)
}

// grpcCheck runs a health check through the door and returns the response
// headers the server set.
func (h *harness) grpcCheck(t *testing.T, withCert bool) metadata.MD {
	t.Helper()
	creds := insecure.NewCredentials()
	if h.pki != nil {
		creds = credentials.NewTLS(h.pki.clientTLS(withCert))
	}
	cc, err := grpc.NewClient(h.addr, grpc.WithTransportCredentials(creds))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var md metadata.MD
	resp, err := healthpb.NewHealthClient(cc).Check(ctx, &healthpb.HealthCheckRequest{}, grpc.Header(&md))
	if err != nil {
		t.Fatalf("health check: %v", err)
	}
	if resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("health status = %v, want SERVING", resp.GetStatus())
	}
	return md
}

type httpMode int

const (
	modeHTTP1 httpMode = iota
	modeHTTP2
)

// httpClient returns a client speaking only the given HTTP version to h:
// over TLS (with the client certificate when withCert) if h has TLS,
// otherwise cleartext (prior knowledge for HTTP/2).
func (h *harness) httpClient(t *testing.T, mode httpMode, withCert bool) *http.Client {
	t.Helper()
	tr := &http.Transport{Protocols: new(http.Protocols)}
	switch {
	case mode == modeHTTP1:
		tr.Protocols.SetHTTP1(true)
	case h.pki != nil:
		tr.Protocols.SetHTTP2(true)
	default:
		tr.Protocols.SetUnencryptedHTTP2(true)
	}
	if h.pki != nil {
		tr.TLSClientConfig = h.pki.clientTLS(withCert)
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

func (h *harness) url(path string) string {
	if h.pki != nil {
		return "https://" + h.addr + path
	}
	return "http://" + h.addr + path
}

func discardLog() *log.Logger { return log.New(io.Discard, "", 0) }
