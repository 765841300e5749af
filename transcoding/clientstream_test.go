package transcoding_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	"github.com/sluice-dev/sluice/frame"
	libraryv1 "github.com/sluice-dev/sluice/gen/go/sluice/demo/library/v1"
	"github.com/sluice-dev/sluice/transcoding"
)

// drainDispatcher stands in for the chain and the proxy of a
// client-streaming call: it receives every message until the end of the
// stream and answers with an empty message.
type drainDispatcher struct {
	mu   sync.Mutex
	msgs [][]byte
}

func (d *drainDispatcher) Dispatch(ss grpc.ServerStream, _ string, _, _ bool) error {
	for {
		f := new(frame.Frame)
		err := ss.RecvMsg(f)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		d.mu.Lock()
		d.msgs = append(d.msgs, f.Bytes())
		d.mu.Unlock()
		f.Free()
	}
	return ss.SendMsg(frame.FromBytes(nil))
}

// TestStreamedBodySplitting checks where a streamed body is cut into
// messages: NDJSON lines, blank lines, CRLF, values side by side, strings
// holding brackets, quotes and newlines.
func TestStreamedBodySplitting(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		body string
		want []string // book ids, in order
		code int
	}{
		{name: "empty body", body: "", code: 200},
		{name: "only blank lines", body: "\n\r\n  \n", code: 200},
		{name: "ndjson", body: `{"bookId":"a"}` + "\n" + `{"bookId":"b"}` + "\n", want: []string{"a", "b"}, code: 200},
		{name: "no final newline, CRLF and blank lines", body: "\r\n" + `{"bookId":"a"}` + "\r\n\r\n" + `{"bookId":"b"}`, want: []string{"a", "b"}, code: 200},
		{name: "side by side", body: `{"bookId":"a"}{"bookId":"b"} {"bookId":"c"}`, want: []string{"a", "b", "c"}, code: 200},
		{name: "brackets and quotes in strings", body: `{"bookId":"}{\"]["}` + "\n" + `{"bookId":"\\"}`, want: []string{`}{"][`, `\`}, code: 200},
		{name: "pretty-printed", body: "{\n  \"bookId\": \"a\",\n  \"book\": {\n    \"title\": \"x\\ny\"\n  }\n}\n", want: []string{"a"}, code: 200},
		{name: "a line that is not JSON", body: `{"bookId":"a"}` + "\nnope\n", code: 400},
		{name: "a closing bracket between messages", body: `{"bookId":"a"}}`, code: 400},
		{name: "cut inside a string", body: `{"bookId":"a`, code: 400},
		{name: "an array", body: `[{"bookId":"a"}]`, code: 400},
		{name: "unknown field", body: `{"nope":1}`, want: []string{""}, code: 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d := &drainDispatcher{}
			w := serve(newHandler(t, d), "POST", "/v1/books:import", tt.body, "Content-Type", "application/x-ndjson")
			if w.Code != tt.code {
				t.Fatalf("status %d, want %d: %s", w.Code, tt.code, w.Body)
			}
			if tt.code != 200 {
				return
			}
			var got []string
			for _, m := range d.msgs {
				var req libraryv1.ImportBooksRequest
				if err := proto.Unmarshal(m, &req); err != nil {
					t.Fatal(err)
				}
				got = append(got, req.GetBookId())
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("messages %q, want %q", got, tt.want)
			}
		})
	}
}

// FuzzStreamedBody feeds arbitrary streamed bodies to a client-streaming
// and a bidirectional method: no panic, and only the outcomes a client
// may cause.
func FuzzStreamedBody(f *testing.F) {
	for _, b := range []string{
		"", "\n", `{}`, "{}\n{}", `{"parent":"shelves/a","book":{"title":"t"}}` + "\n\n{}", `{"a":"\"}"}`,
		`}`, `]]`, `"x"`, `1 2 3`, `{"a":[` + strings.Repeat("{", 100), "\xff\n", `{"text":"\ud800"}`, `{"bookId":"x"` + "\r\n",
	} {
		f.Add([]byte(b))
	}
	h := newHandler(f, &drainDispatcher{}, transcoding.WithMaxBodyBytes(64))
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, path := range []string{"/v1/books:import", "/v1/books:discuss"} {
			w := serve(h, "POST", path, string(body), "Content-Type", "application/x-ndjson", "Accept", "application/x-ndjson, application/json")
			switch w.Code {
			case 200, 400, 413:
			default:
				t.Fatalf("POST %s %q: status %d: %s", path, body, w.Code, w.Body)
			}
		}
	})
}

// TestStreamingUpstreamEndsFirst checks a client-streaming call whose
// upstream ends while the client is still sending: the client gets the
// answer without finishing its body, and the handler does not outlive the
// call waiting for the body (goleak).
func TestStreamingUpstreamEndsFirst(t *testing.T) {
	e := newEnv(t)
	for _, p := range protocols(e, t) {
		for _, c := range []struct {
			name, path, accept, first string
			code                      int
		}{
			{"import refused by the upstream", "/v1/books:import", "application/json", `{"parent":"nope","book":{"title":"x"}}`, 400},
			{"discuss refused by the upstream", "/v1/books:discuss", "application/x-ndjson", `{"name":"shelves/classics/books/nope","text":"x"}`, 404},
			{"refused before the call", "/v1/books:import", "application/x-ndjson", `{}`, 406},
		} {
			t.Run(p.name+"/"+c.name, func(t *testing.T) {
				pr, pw := io.Pipe()
				defer pw.Close()
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				go func() { _, _ = io.WriteString(pw, c.first+"\n") }()
				res := e.open(t, ctx, p.client, "POST", c.path, pr, "Content-Type", "application/x-ndjson", "Accept", c.accept)
				raw, err := io.ReadAll(res.Body)
				if err != nil {
					t.Fatal(err)
				}
				if res.StatusCode != c.code {
					t.Errorf("status %d, want %d: %s", res.StatusCode, c.code, raw)
				}
			})
		}
	}
}

// TestStreamingSSEHeartbeat checks that a quiet SSE stream gets comment
// lines, which EventSource ignores.
func TestStreamingSSEHeartbeat(t *testing.T) {
	e := newEnv(t, transcoding.WithSSEHeartbeat(20*time.Millisecond))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	res := e.open(t, ctx, e.client, "GET", "/v1/shelves/classics:watch", nil, "Accept", "text/event-stream")
	buf := make([]byte, 64)
	n, err := io.ReadAtLeast(res.Body, buf, 3)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(buf[:n]); !strings.HasPrefix(got, ":\n\n") {
		t.Errorf("first bytes %q, want a comment", got)
	}
	if _, err := transcoding.NewREST(func() *transcoding.Routes { return nil }, &drainDispatcher{}, transcoding.WithSSEHeartbeat(-time.Second)); err == nil {
		t.Error("a negative heartbeat was accepted")
	}
	if _, err := transcoding.NewREST(func() *transcoding.Routes { return nil }, &drainDispatcher{}, transcoding.WithStreamFormat(transcoding.StreamSSE)); err == nil {
		t.Error("SSE was accepted as the default stream format")
	}
}

// TestStreamingWriteStopsWithTheClient checks that a client that goes
// away mid-stream ends the call: the upstream's watch is cancelled and
// nothing is left running (goleak).
func TestStreamingWriteStopsWithTheClient(t *testing.T) {
	e := newEnv(t)
	for _, p := range protocols(e, t) {
		t.Run(p.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			res := e.open(t, ctx, p.client, "GET", "/v1/shelves/classics:watch", nil, "Accept", "application/x-ndjson")
			if res.StatusCode != http.StatusOK {
				t.Fatalf("status %d", res.StatusCode)
			}
			n := len(e.logs.all())
			cancel()
			_ = res.Body.Close()
			deadline := time.Now().Add(20 * time.Second)
			for len(e.logs.all()) == n {
				if time.Now().After(deadline) {
					t.Fatal("the watch did not end with its client")
				}
				time.Sleep(time.Millisecond)
			}
			if rec := e.logs.all()[n]; rec["code"] != "Canceled" || rec["method"] != "/sluice.demo.library.v1.LibraryService/WatchShelf" {
				t.Errorf("access log %v", rec)
			}
		})
	}
}
