package e2e_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"google.golang.org/grpc/codes"

	"github.com/sluice-dev/sluice/config"
	"github.com/sluice-dev/sluice/internal/gatewaytest"
	"github.com/sluice-dev/sluice/transcoding"
)

// wsDialOpts dials a WebSocket call of path on addr, tagged id.
func wsDialOpts(ctx context.Context, addr, path, id string, hdr http.Header, subprotocols ...string) (*websocket.Conn, *http.Response, error) {
	h := hdr.Clone()
	if h == nil {
		h = http.Header{}
	}
	h.Set("Grpc-Metadata-"+testIDKey, id)
	return websocket.Dial(ctx, "ws://"+addr+path, &websocket.DialOptions{
		HTTPHeader:   h,
		HTTPClient:   &http.Client{Transport: &http.Transport{}},
		Subprotocols: subprotocols,
	})
}

// wsCall makes one WebSocket call of path tagged id, sending body (if
// any) as its one message and ending its side, and returns the decision:
// a refused handshake by its HTTP status, an opened call by the status
// its final message carries.
func wsCall(t *testing.T, addr, path, body, id string, hdr http.Header, subprotocols ...string) (decision, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, res, err := wsDialOpts(ctx, addr, path, id, hdr, subprotocols...)
	if err != nil {
		if res == nil {
			t.Fatalf("websocket %s: %v", path, err)
		}
		return decisionOfHTTP(res.StatusCode), fmt.Sprintf("handshake %d", res.StatusCode)
	}
	defer c.CloseNow()
	if body != "" {
		_ = c.Write(ctx, websocket.MessageText, []byte(body))
	}
	_ = c.Write(ctx, websocket.MessageText, nil)
	var last []byte
	for {
		typ, data, err := c.Read(ctx)
		if err != nil {
			var ce websocket.CloseError
			if errors.As(err, &ce) {
				var st struct{ Code int }
				_ = json.Unmarshal(last, &st)
				return decisionOfCode(codes.Code(st.Code)), fmt.Sprintf("closed %d %q after %s", ce.Code, ce.Reason, last)
			}
			// A watch goes on: it was admitted if it opened.
			return admitted, "open: " + err.Error()
		}
		if typ == websocket.MessageText {
			last = data
		}
	}
}

// TestWebSocketTokens checks the browser credentials: a bearer token as
// a subprotocol or a query parameter authenticates when allowed, and is
// ignored (the call is then unauthenticated) when not.
func TestWebSocketTokens(t *testing.T) {
	gatewaytest.CheckLeaks(t)
	on := startPolicyGateway(t, gatewayOptions{rest: []transcoding.Option{transcoding.WithWebSocketTokens(true, true)}})
	off := startPolicyGateway(t, gatewayOptions{})
	tok := mintToken(t, "writer", []string{writeScope}, nil)
	const body = `{"parent":"shelves/nope","book":{"title":"T"}}`
	for _, tc := range []struct {
		name  string
		g     *policyGateway
		path  string
		hdr   http.Header
		proto []string
		want  decision
	}{
		{"header", off, "/v1/books:import", http.Header{"Authorization": {"Bearer " + tok}}, nil, admitted},
		{"none", on, "/v1/books:import", nil, nil, unauthenticated},
		{"subprotocol", on, "/v1/books:import", nil, []string{"sluice.json", "sluice.bearer." + tok}, admitted},
		{"query", on, "/v1/books:import?access_token=" + tok, nil, nil, admitted},
		{"subprotocol-off", off, "/v1/books:import", nil, []string{"sluice.json", "sluice.bearer." + tok}, unauthenticated},
		{"query-off", off, "/v1/books:import?access_token=" + tok, nil, nil, unauthenticated},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id := newTestID("wstok")
			got, detail := wsCall(t, tc.g.addr, tc.path, body, id, tc.hdr, tc.proto...)
			if got != tc.want {
				t.Errorf("decision %s, want %s (%s)", got, tc.want, detail)
			}
			if reached := len(tc.g.rec.methods(id)) > 0; reached != (tc.want == admitted) {
				t.Errorf("reached the upstream: %v (%s)", reached, detail)
			}
		})
	}
}

// TestWebSocketCloseCancelsUpstream closes a watch's WebSocket while the
// upstream waits for a change: the upstream call is cancelled.
func TestWebSocketCloseCancelsUpstream(t *testing.T) {
	gatewaytest.CheckLeaks(t)
	g := startPolicyGateway(t, gatewayOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	id := newTestID("wsclose")
	c, _, err := wsDialOpts(ctx, g.addr, "/v1/shelves/classics:watch", id, nil)
	if err != nil {
		t.Fatal(err)
	}
	calls := waitCalls(t, g, id)
	_ = c.Close(websocket.StatusGoingAway, "bye")
	select {
	case <-calls[0].done:
	case <-ctx.Done():
		t.Fatal("the upstream call was not cancelled 20s after the client closed")
	}
	if calls[0].ctxErr == nil {
		t.Errorf("the upstream call ended without being cancelled")
	}
}

func waitCalls(t *testing.T, g *policyGateway, id string) []*call {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if calls := g.rec.seen(id); len(calls) > 0 {
			return calls
		}
	}
	t.Fatal("the call never reached the upstream")
	return nil
}

// TestWebSocketNeverReads is a bidirectional call whose client sends and
// never reads: the answers fill the connection, the gateway's writes
// stall, and the send stall timeout ends the call (upstream cancelled,
// connection closed) while the gateway's heap stays flat.
func TestWebSocketNeverReads(t *testing.T) {
	gatewaytest.CheckLeaks(t)
	g := startPolicyGateway(t, gatewayOptions{configure: func(c *config.Config) {
		c.Limits.SendStallTimeout = config.Duration(300 * time.Millisecond)
	}})
	before := heapInuse()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	id := newTestID("wsstall")
	c, _, err := wsDialOpts(ctx, g.addr, "/v1/books:discuss", id, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	text := strings.Repeat("talk ", 200)
	first := `{"name":"shelves/classics/books/moby-dick","text":"` + text + `"}`
	msg := `{"text":"` + text + `"}`
	var werr error
	for i := 0; ; i++ {
		m := msg
		if i == 0 {
			m = first
		}
		if werr = c.Write(ctx, websocket.MessageText, []byte(m)); werr != nil {
			break
		}
	}
	if ctx.Err() != nil {
		t.Fatalf("the client could write for 60s: the call was not ended (%v)", werr)
	}
	calls := waitCalls(t, g, id)
	select {
	case <-calls[0].done:
	case <-time.After(20 * time.Second):
		t.Fatal("the upstream call did not end")
	}
	checkHeapGrowth(t, "a WebSocket client that never reads", before, 64<<20)
}
