package server_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/sluice-dev/sluice/internal/gatewaytest"
	"github.com/sluice-dev/sluice/upstream"
)

// testCA issues certificates for one test.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "sluice test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &testCA{cert: cert, key: key, pool: pool}
}

func (ca *testCA) issue(t *testing.T, cn string, usage x509.ExtKeyUsage) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		DNSNames: []string{cn}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// The gateway reaches an upstream over mutual TLS: it verifies the
// upstream's certificate and presents its own.
func TestUpstreamMutualTLS(t *testing.T) {
	gatewaytest.CheckLeaks(t)
	ca := newTestCA(t)
	var clientCN = make(chan string, 1)
	up := grpc.NewServer(
		grpc.Creds(credentials.NewTLS(&tls.Config{
			Certificates: []tls.Certificate{ca.issue(t, "upstream.test", x509.ExtKeyUsageServerAuth)},
			ClientCAs:    ca.pool, ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS12,
		})),
		grpc.UnknownServiceHandler(func(_ any, ss grpc.ServerStream) error {
			if p, ok := peer.FromContext(ss.Context()); ok {
				if info, ok := p.AuthInfo.(credentials.TLSInfo); ok && len(info.State.PeerCertificates) > 0 {
					select {
					case clientCN <- info.State.PeerCertificates[0].Subject.CommonName:
					default:
					}
				}
			}
			in := new(wrapperspb.StringValue)
			if err := ss.RecvMsg(in); err != nil {
				return err
			}
			return ss.SendMsg(in)
		}),
	)
	addr := gatewaytest.Serve(t, up)

	call := func(tc *tls.Config) error {
		gw := gatewaytest.StartGateway(t, []upstream.Spec{{Target: addr, Methods: []string{"*"}, TLS: tc}})
		cc := gatewaytest.Dial(t, gw.Addr)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		out := new(wrapperspb.StringValue)
		return cc.Invoke(ctx, "/test.Echo/Unary", wrapperspb.String("over mTLS"), out)
	}

	good := &tls.Config{
		RootCAs: ca.pool, ServerName: "upstream.test", MinVersion: tls.VersionTLS12,
		Certificates: []tls.Certificate{ca.issue(t, "sluice-gateway", x509.ExtKeyUsageClientAuth)},
	}
	if err := call(good); err != nil {
		t.Fatalf("mTLS upstream: %v", err)
	}
	if cn := <-clientCN; cn != "sluice-gateway" {
		t.Errorf("upstream saw client certificate %q, want sluice-gateway", cn)
	}

	// An upstream whose certificate does not verify is UNAVAILABLE.
	other := newTestCA(t)
	bad := good.Clone()
	bad.RootCAs = other.pool
	if err := call(bad); status.Code(err) != codes.Unavailable {
		t.Errorf("untrusted upstream: %v, want UNAVAILABLE", err)
	}
}
