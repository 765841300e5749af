package transcoding_test

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/transcoding"
)

// eventSource is a client that behaves as a browser's EventSource (the
// HTML "server-sent events" processing model): it dispatches an event at
// each blank line when data was given (type "message" unless named), keeps
// the last retry field as its reconnection time (3 s at first), and when a
// response ends without the page having closed it, reconnects after that
// time. A response that is not 200 text/event-stream fails it for good.
type eventSource struct {
	client *http.Client
	url    string
	// onEvent sees each dispatched event; returning true closes the
	// source (the page's es.close()).
	onEvent func(typ, data string) bool

	connections int
	retry       time.Duration
	closed      bool
	// wouldWait is set when the source stopped before a reconnection
	// this test will not wait for (one of an hour or more).
	wouldWait time.Duration
}

func (es *eventSource) run(t *testing.T) {
	t.Helper()
	es.retry = 3 * time.Second
	for !es.closed {
		if es.connections == 5 {
			t.Fatalf("%d connections: the stream keeps being re-run", es.connections)
		}
		es.connections++
		req, err := http.NewRequestWithContext(context.Background(), "GET", es.url, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Accept", "text/event-stream")
		req.Header.Set("Cache-Control", "no-cache")
		res, err := es.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/event-stream") {
			_ = res.Body.Close()
			return // "fail the connection": no reconnection
		}
		es.read(t, res.Body)
		_ = res.Body.Close()
		if es.closed {
			return
		}
		if es.retry >= time.Hour {
			es.wouldWait = es.retry
			return
		}
		time.Sleep(es.retry)
	}
}

// read parses one response's event stream.
func (es *eventSource) read(t *testing.T, body io.Reader) {
	t.Helper()
	sc := bufio.NewScanner(body)
	typ, data, hasData := "", "", false
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			if hasData {
				if typ == "" {
					typ = "message"
				}
				if es.onEvent(typ, strings.TrimSuffix(data, "\n")) {
					es.closed = true
					return
				}
			}
			typ, data, hasData = "", "", false
			continue
		}
		if strings.HasPrefix(line, ":") {
			continue
		}
		field, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch field {
		case "event":
			typ = value
		case "data":
			data, hasData = data+value+"\n", true
		case "retry":
			if ms, err := strconv.Atoi(value); err == nil {
				es.retry = time.Duration(ms) * time.Millisecond
			}
		}
	}
}

// countCalls waits until the access log holds at least one call of
// method, then returns how many it holds.
func countCalls(t *testing.T, e *env, method string) int {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		n := 0
		for _, rec := range e.logs.all() {
			if rec["method"] == method {
				n++
			}
		}
		if n > 0 || time.Now().After(deadline) {
			return n
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestSSEEventSourceStops: an EventSource on a finished server stream
// calls the upstream once. A page that closes on the documented final
// events stops at once; one that ignores them would wait a day before it
// reconnects, never the browser's default few seconds. No event is named
// "error", which EventSource fires for its own connection failures.
func TestSSEEventSourceStops(t *testing.T) {
	const export = "/sluice.demo.library.v1.LibraryService/ExportBooks"
	for _, tt := range []struct {
		name  string
		close bool // the page closes on end and grpc-error
	}{{"page closes on end", true}, {"page ignores end", false}} {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, transcoding.WithSSEHeartbeat(time.Hour))
			var types []string
			es := &eventSource{client: e.client, url: e.base + "/v1/shelves/scifi/books:export", onEvent: func(typ, data string) bool {
				types = append(types, typ)
				return tt.close && (typ == "end" || typ == "grpc-error")
			}}
			es.run(t)
			if got := strings.Join(types, ","); got != "message,message,end" {
				t.Errorf("events %s, want message,message,end", got)
			}
			if es.connections != 1 {
				t.Errorf("%d connections, want 1", es.connections)
			}
			if !tt.close && es.wouldWait < 24*time.Hour {
				t.Errorf("a page that ignores the end would reconnect after %v", es.retry)
			}
			if n := countCalls(t, e, export); n != 1 {
				t.Errorf("%d ExportBooks calls, want 1", n)
			}
		})
	}
}
