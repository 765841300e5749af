package transcoding_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"google.golang.org/protobuf/proto"

	libraryv1 "github.com/sluice-dev/sluice/gen/go/sluice/demo/library/v1"
	"github.com/sluice-dev/sluice/transcoding"
)

// wsDial opens a WebSocket to path on e with the given options.
func wsDial(t *testing.T, e *env, path string, opts *websocket.DialOptions) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	if opts == nil {
		opts = &websocket.DialOptions{}
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{Transport: &http.Transport{}}
	}
	c, res, err := websocket.Dial(ctx, "ws://"+e.addr+path, opts)
	if c != nil {
		t.Cleanup(func() { _ = c.CloseNow() })
	}
	return c, res, err
}

// wsRead reads messages until the close frame: the data messages, the
// final status message and the close error.
func wsReadAll(t *testing.T, c *websocket.Conn) (msgs []string, final map[string]any, closeErr websocket.CloseError) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var last string
	for {
		typ, data, err := c.Read(ctx)
		if err != nil {
			if !errors.As(err, &closeErr) {
				t.Fatalf("read: %v (messages %q)", err, msgs)
			}
			break
		}
		if typ == websocket.MessageBinary {
			msgs = append(msgs, string(data))
			continue
		}
		if last != "" {
			msgs = append(msgs, last)
		}
		last = string(data)
	}
	if last != "" {
		if err := json.Unmarshal([]byte(last), &final); err != nil {
			t.Fatalf("final status %q: %v", last, err)
		}
	}
	return msgs, final, closeErr
}

func wsWrite(t *testing.T, c *websocket.Conn, typ websocket.MessageType, msg string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := c.Write(ctx, typ, []byte(msg)); err != nil {
		t.Fatalf("write %q: %v", msg, err)
	}
}

func TestWebSocketBidiJSON(t *testing.T) {
	e := newEnv(t)
	c, res, err := wsDial(t, e, "/v1/books:discuss", nil)
	if err != nil {
		t.Fatalf("dial: %v (%v)", err, res)
	}
	wsWrite(t, c, websocket.MessageText, `{"name":"shelves/classics/books/moby-dick","text":"hello"}`)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	// Bidirectional: the first answer arrives before the client sends more.
	typ, first, err := c.Read(ctx)
	if err != nil || typ != websocket.MessageText {
		t.Fatalf("first answer: %v %v", typ, err)
	}
	var got map[string]any
	if err := json.Unmarshal(first, &got); err != nil || got["sequence"] != "1" || got["speaker"] != "librarian" {
		t.Fatalf("first answer %s: %v", first, err)
	}
	wsWrite(t, c, websocket.MessageText, `{"text":"again"}`)
	wsWrite(t, c, websocket.MessageText, ``)
	msgs, final, ce := wsReadAll(t, c)
	if len(msgs) != 1 || !strings.Contains(msgs[0], `"sequence":"2"`) {
		t.Errorf("messages after the first: %q", msgs)
	}
	if final["code"] != float64(0) {
		t.Errorf("final status %v", final)
	}
	if ce.Code != websocket.StatusNormalClosure {
		t.Errorf("close %v, want 1000", ce)
	}
}

func TestWebSocketStatusCloses(t *testing.T) {
	e := newEnv(t)
	c, _, err := wsDial(t, e, "/v1/books:discuss", nil)
	if err != nil {
		t.Fatal(err)
	}
	wsWrite(t, c, websocket.MessageText, `{"name":"shelves/classics/books/nope","text":"hello"}`)
	_, final, ce := wsReadAll(t, c)
	if final["code"] != float64(5) {
		t.Errorf("final status %v, want NOT_FOUND", final)
	}
	if ce.Code != 4005 || ce.Reason == "" {
		t.Errorf("close %v, want 4005 with the message", ce)
	}
}

func TestWebSocketClientStream(t *testing.T) {
	e := newEnv(t)
	c, _, err := wsDial(t, e, "/v1/books:import", nil)
	if err != nil {
		t.Fatal(err)
	}
	wsWrite(t, c, websocket.MessageText, `{"parent":"shelves/classics","book":{"title":"A"}}`)
	wsWrite(t, c, websocket.MessageText, `{"book":{"title":"B"}}`)
	wsWrite(t, c, websocket.MessageText, ``)
	msgs, final, ce := wsReadAll(t, c)
	if len(msgs) != 1 || !strings.Contains(msgs[0], `"importedCount":2`) {
		t.Errorf("response %q", msgs)
	}
	if final["code"] != float64(0) || ce.Code != websocket.StatusNormalClosure {
		t.Errorf("end %v %v", final, ce)
	}
}

func TestWebSocketServerStream(t *testing.T) {
	e := newEnv(t)
	c, _, err := wsDial(t, e, "/v1/shelves/classics/books:export", nil)
	if err != nil {
		t.Fatal(err)
	}
	msgs, final, ce := wsReadAll(t, c)
	if len(msgs) == 0 || !strings.Contains(msgs[0], `"book":`) {
		t.Errorf("messages %q", msgs)
	}
	if final["code"] != float64(0) || ce.Code != websocket.StatusNormalClosure {
		t.Errorf("end %v %v", final, ce)
	}
}

func TestWebSocketBinary(t *testing.T) {
	e := newEnv(t)
	c, _, err := wsDial(t, e, "/v1/books:discuss", &websocket.DialOptions{Subprotocols: []string{"sluice.proto"}})
	if err != nil {
		t.Fatal(err)
	}
	if c.Subprotocol() != "sluice.proto" {
		t.Fatalf("subprotocol %q", c.Subprotocol())
	}
	req, _ := proto.Marshal(&libraryv1.DiscussBookRequest{Name: "shelves/classics/books/moby-dick", Text: "hi"})
	wsWrite(t, c, websocket.MessageBinary, string(req))
	wsWrite(t, c, websocket.MessageText, ``)
	msgs, final, ce := wsReadAll(t, c)
	if len(msgs) != 1 {
		t.Fatalf("messages %q", msgs)
	}
	var resp libraryv1.DiscussBookResponse
	if err := proto.Unmarshal([]byte(msgs[0]), &resp); err != nil || resp.GetSequence() != 1 || resp.GetName() != "shelves/classics/books/moby-dick" {
		t.Errorf("response %v: %v", &resp, err)
	}
	if final["code"] != float64(0) || ce.Code != websocket.StatusNormalClosure {
		t.Errorf("end %v %v", final, ce)
	}
}

func TestWebSocketOrigin(t *testing.T) {
	e := newEnv(t, transcoding.WithWebSocketOrigins(func(o string) bool { return o == "https://app.example" }))
	for _, tc := range []struct {
		origin string
		ok     bool
	}{{"https://app.example", true}, {"https://evil.example", false}} {
		h := http.Header{}
		h.Set("Origin", tc.origin)
		c, res, err := wsDial(t, e, "/v1/books:discuss", &websocket.DialOptions{HTTPHeader: h})
		if tc.ok {
			if err != nil {
				t.Errorf("%s: %v", tc.origin, err)
			}
			continue
		}
		if err == nil || res == nil || res.StatusCode != http.StatusForbidden {
			t.Errorf("%s: got %v, %v; want 403", tc.origin, c, err)
		}
	}
}

func TestWebSocketMessageTooBig(t *testing.T) {
	e := newEnv(t, transcoding.WithMaxBodyBytes(1024), transcoding.WithMaxBufferedBytes(1<<20))
	c, _, err := wsDial(t, e, "/v1/books:discuss", nil)
	if err != nil {
		t.Fatal(err)
	}
	wsWrite(t, c, websocket.MessageText, `{"name":"shelves/classics/books/moby-dick","text":"`+strings.Repeat("x", 4096)+`"}`)
	_, _, ce := wsReadAll(t, c)
	if ce.Code != websocket.StatusMessageTooBig {
		t.Errorf("close %v, want 1009", ce)
	}
}

// waitLog waits up to 20s for the access log line of method and returns
// it.
func waitLog(t *testing.T, e *env, method string) map[string]string {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		for _, rec := range e.logs.all() {
			if rec["method"] == method {
				return rec
			}
		}
	}
	t.Fatalf("no access log line for %s within 20s", method)
	return nil
}

// TestWebSocketKeepalive: a client that answers no ping (it never reads)
// while the gateway waits for its next message is gone: its call is
// cancelled, and the access log says WebSocket.
func TestWebSocketKeepalive(t *testing.T) {
	e := newEnv(t, transcoding.WithWebSocketPingInterval(50*time.Millisecond))
	c, _, err := wsDial(t, e, "/v1/books:discuss", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	rec := waitLog(t, e, "/sluice.demo.library.v1.LibraryService/DiscussBook")
	if (rec["code"] != "Unavailable" && rec["code"] != "Canceled") || rec["protocol"] != "websocket" {
		t.Errorf("access log %v", rec)
	}
}

// TestWebSocketCloseCancels: a client closing mid-stream cancels the
// call (the upstream's watch ends).
func TestWebSocketCloseCancels(t *testing.T) {
	e := newEnv(t)
	c, _, err := wsDial(t, e, "/v1/shelves/classics:watch", nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	// Reading answers pings and sees the close handshake through.
	go func() { _, _, _ = c.Read(ctx) }()
	if err := c.Close(websocket.StatusNormalClosure, ""); err != nil {
		t.Logf("close: %v", err)
	}
	rec := waitLog(t, e, "/sluice.demo.library.v1.LibraryService/WatchShelf")
	if rec["code"] != "Canceled" {
		t.Errorf("access log %v", rec)
	}
}
