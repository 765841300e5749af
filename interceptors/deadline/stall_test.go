package deadline_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
	"google.golang.org/grpc/codes"

	"github.com/sluice-dev/sluice/interceptors/deadline"
	"github.com/sluice-dev/sluice/internal/gatewaytest"
	"github.com/sluice-dev/sluice/server"
)

// stalledUnary opens stalled unary calls on one raw HTTP/2 connection: each
// sends a message header announcing 1000 bytes, then 10 of them, and never
// ends its stream. It returns, per stream, the grpc-status the gateway
// ended it with and whether the stream was reset, once every stream has
// both (or the connection closed, or wait passed).
func stalledUnary(t *testing.T, addr, method string, streams int, wait time.Duration) map[uint32]stallEnd {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(wait))
	if _, err := conn.Write([]byte(http2.ClientPreface)); err != nil {
		t.Fatal(err)
	}
	fr := http2.NewFramer(conn, conn)
	fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	if err := fr.WriteSettings(); err != nil {
		t.Fatal(err)
	}
	var hb bytes.Buffer
	enc := hpack.NewEncoder(&hb)
	body := make([]byte, 5+10)
	body[0] = 0
	binary.BigEndian.PutUint32(body[1:5], 1000)
	for i := range streams {
		id := uint32(2*i + 1)
		hb.Reset()
		for _, f := range [][2]string{
			{":method", "POST"}, {":scheme", "http"}, {":path", method}, {":authority", addr},
			{"content-type", "application/grpc"}, {"te", "trailers"},
		} {
			_ = enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
		}
		if err := fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: hb.Bytes(), EndHeaders: true}); err != nil {
			t.Fatal(err)
		}
		if err := fr.WriteData(id, false, body); err != nil {
			t.Fatal(err)
		}
	}
	ends := map[uint32]stallEnd{}
	done := func() bool {
		if len(ends) < streams {
			return false
		}
		for _, e := range ends {
			if !e.reset || e.status == "" {
				return false
			}
		}
		return true
	}
	for !done() {
		f, err := fr.ReadFrame()
		if err != nil {
			t.Logf("connection ended: %v", err)
			break
		}
		switch f := f.(type) {
		case *http2.MetaHeadersFrame:
			if v := f.PseudoValue("status"); v != "" && v != "200" {
				t.Errorf("stream %d: HTTP status %s", f.StreamID, v)
			}
			for _, hf := range f.RegularFields() {
				e := ends[f.StreamID]
				switch hf.Name {
				case "grpc-status":
					e.status = hf.Value
				case "grpc-message":
					e.message = hf.Value
				}
				ends[f.StreamID] = e
			}
		case *http2.RSTStreamFrame:
			e := ends[f.StreamID]
			e.reset = true
			ends[f.StreamID] = e
		case *http2.SettingsFrame:
			if !f.IsAck() {
				_ = fr.WriteSettingsAck()
			}
		case *http2.PingFrame:
			if !f.IsAck() {
				_ = fr.WritePing(true, f.Data)
			}
		}
	}
	return ends
}

type stallEnd struct {
	status, message string
	reset           bool
}

// A unary call whose request never completes is ended on the wire by the
// deadline policy: DEADLINE_EXCEEDED in the trailers, then RST_STREAM, for
// every such call, while a normal call made meanwhile succeeds. Before
// policies could end calls on the wire, the proxy stayed blocked reading
// the request and such calls were held for as long as the client liked.
func TestStalledUnaryEndedOnTheWire(t *testing.T) {
	gatewaytest.CheckLeaks(t)
	d, err := deadline.New(deadline.WithLimits(deadline.Limits{Default: 300 * time.Millisecond, Max: 500 * time.Millisecond}))
	if err != nil {
		t.Fatal(err)
	}
	up := gatewaytest.StartEcho(t)
	unary := server.WithMethodKinds(func(string) (bool, bool, bool) { return false, false, true })
	gw := gatewaytest.NewGatewayWithProxy(t, gatewaytest.Route(up.Addr, "*"), []server.ProxyOption{unary}, d.StreamServerInterceptor())
	gw.Start(t)
	cc := gatewaytest.Dial(t, gw.Addr)

	const streams = 20
	var (
		wg   sync.WaitGroup
		ends map[uint32]stallEnd
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		ends = stalledUnary(t, gw.Addr, "/test.Echo/Unary", streams, 20*time.Second)
	}()
	// A normal call while the stalled ones are held.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if got, _, err := gatewaytest.Call(ctx, cc, "/test.Echo/Unary", "hello"); err != nil || got != "hello" {
		t.Errorf("normal call meanwhile = %q, %v", got, err)
	}
	wg.Wait()
	if len(ends) != streams {
		t.Fatalf("%d of %d stalled calls ended", len(ends), streams)
	}
	want := strconv.Itoa(int(codes.DeadlineExceeded))
	for id, e := range ends {
		if e.status != want || !e.reset {
			t.Errorf("stream %d ended with grpc-status %q (%s), reset %v; want %s and a reset", id, e.status, e.message, e.reset, want)
		}
	}
	if n := len(up.Calls()); n != 1 {
		t.Errorf("upstream saw %d calls, want only the normal one", n)
	}
}
