package server_test

import (
	"bytes"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/sluice-dev/sluice/internal/gatewaytest"
	"github.com/sluice-dev/sluice/server"
)

// A connection that starts calls and resets them at once (HTTP/2 rapid
// reset) on the net/http side of the gateway is closed once it abandoned
// a few hundred, so the work it makes the gateway start stays bounded
// however long it goes on.
func TestRapidResetOnHTTPSideClosesTheConnection(t *testing.T) {
	gatewaytest.CheckLeaks(t)
	var started atomic.Int64
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/ok" {
			return
		}
		started.Add(1)
		<-r.Context().Done() // as a call in flight upstream would wait
	})
	gw := gatewaytest.NewGateway(t, nil)
	gw.Start(t, server.WithHTTPHandler(handler))

	conn, err := net.Dial("tcp", gw.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := conn.Write([]byte(http2.ClientPreface)); err != nil {
		t.Fatal(err)
	}
	fr := http2.NewFramer(conn, conn)
	if err := fr.WriteSettings(); err != nil {
		t.Fatal(err)
	}
	// The gateway's SETTINGS come first; a client acknowledges them.
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			t.Fatal(err)
		}
		if sf, ok := f.(*http2.SettingsFrame); ok && !sf.IsAck() {
			if err := fr.WriteSettingsAck(); err != nil {
				t.Fatal(err)
			}
			break
		}
	}
	closed := make(chan struct{})
	go func() {
		defer close(closed)
		for {
			f, err := fr.ReadFrame()
			if err != nil {
				t.Logf("read: %v", err)
				return
			}
			if ga, ok := f.(*http2.GoAwayFrame); ok {
				t.Logf("GOAWAY %v %q", ga.ErrCode, ga.DebugData())
			}
		}
	}()
	var hb bytes.Buffer
	enc := hpack.NewEncoder(&hb)
	const attempts = 20000
	sent := 0
	for i := range attempts {
		id := uint32(2*i + 1)
		hb.Reset()
		for _, f := range [][2]string{{":method", "GET"}, {":scheme", "http"}, {":path", "/v1/shelves"}, {":authority", "test"}} {
			_ = enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
		}
		if err := fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: hb.Bytes(), EndHeaders: true, EndStream: true}); err != nil {
			break
		}
		if err := fr.WriteRSTStream(id, http2.ErrCodeCancel); err != nil {
			break
		}
		sent++
	}
	select {
	case <-closed:
	case <-time.After(30 * time.Second):
		t.Fatalf("the gateway kept the connection open after %d resets", sent)
	}
	t.Logf("%d resets sent before the connection was closed, %d handlers started", sent, started.Load())
	if n := started.Load(); n >= attempts/2 {
		t.Errorf("%d of %d reset calls started a handler", n, attempts)
	}
	// The gateway still serves others.
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	res, err := client.Get("http://" + gw.Addr + "/ok")
	if err != nil {
		t.Fatalf("a normal call after: %v", err)
	}
	res.Body.Close()
}
