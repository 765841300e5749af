package transcoding_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/transcoding"
)

// These tests are acceptance 1 of issue 4: every streaming kind of the
// demo API over HTTP, through a real gateway in front of the demo
// upstream, over HTTP/1.1 and h2c.

// h2cClient speaks HTTP/2 with prior knowledge over cleartext.
func h2cClient() *http.Client {
	tr := &http.Transport{Protocols: new(http.Protocols)}
	tr.Protocols.SetUnencryptedHTTP2(true)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

// protocols are the client kinds every streaming test runs with.
func protocols(e *env, t *testing.T) []struct {
	name   string
	client *http.Client
} {
	h2 := h2cClient()
	t.Cleanup(h2.CloseIdleConnections)
	return []struct {
		name   string
		client *http.Client
	}{{"http1", e.client}, {"h2c", h2}}
}

// open starts a request and returns the response with its body unread.
func (e *env) open(t *testing.T, ctx context.Context, client *http.Client, method, path string, body io.Reader, headers ...string) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, method, e.base+path, body)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	t.Cleanup(func() { _ = res.Body.Close() })
	return res
}

// event is one streamed item as a client sees it: a message, or the typed
// error that ended the stream.
type event struct {
	msg map[string]any
	err map[string]any // a google.rpc.Status
}

// reader reads the events of a streamed response in its format.
type reader struct {
	format transcoding.StreamFormat
	br     *bufio.Reader
	ended  bool // SSE: the final event (end or grpc-error) was read
}

func newReader(t *testing.T, res *http.Response) *reader {
	t.Helper()
	ct := res.Header.Get("Content-Type")
	f := map[string]transcoding.StreamFormat{
		"application/json":     transcoding.StreamEnvelope,
		"application/x-ndjson": transcoding.StreamNDJSON,
		"text/event-stream":    transcoding.StreamSSE,
	}[ct]
	if f == "" {
		t.Fatalf("streamed Content-Type %q", ct)
	}
	return &reader{format: f, br: bufio.NewReader(res.Body)}
}

// next returns the next event, or io.EOF at the end of the body.
func (r *reader) next() (event, error) {
	if r.format == transcoding.StreamSSE {
		return r.nextSSE()
	}
	line, err := r.br.ReadBytes('\n')
	if err != nil {
		if errors.Is(err, io.EOF) && len(line) > 0 {
			return event{}, fmt.Errorf("unterminated line %q", line)
		}
		return event{}, err
	}
	var v map[string]any
	if err := json.Unmarshal(line, &v); err != nil {
		return event{}, fmt.Errorf("line %q: %w", line, err)
	}
	if r.format == transcoding.StreamEnvelope {
		if e, ok := v["error"].(map[string]any); ok && len(v) == 1 {
			return event{err: e}, nil
		}
		m, ok := v["result"].(map[string]any)
		if !ok || len(v) != 1 {
			return event{}, fmt.Errorf("line %q is neither a result nor an error", line)
		}
		return event{msg: m}, nil
	}
	if v["@type"] == "type.googleapis.com/google.rpc.Status" {
		return event{err: v}, nil
	}
	return event{msg: v}, nil
}

func (r *reader) nextSSE() (event, error) {
	name, data := "", ""
	for {
		line, err := r.br.ReadString('\n')
		if err != nil {
			if errors.Is(err, io.EOF) && (line != "" || data != "") {
				return event{}, fmt.Errorf("unterminated event %q", data+line)
			}
			if errors.Is(err, io.EOF) && !r.ended {
				// An EventSource would reconnect and call again.
				return event{}, errors.New("SSE stream ended without an end or grpc-error event")
			}
			return event{}, err
		}
		if r.ended && line != "\n" {
			return event{}, fmt.Errorf("SSE line %q after the final event", line)
		}
		line = strings.TrimSuffix(line, "\n")
		switch {
		case line == "":
			if data == "" {
				continue
			}
			var v map[string]any
			if err := json.Unmarshal([]byte(data), &v); err != nil {
				return event{}, fmt.Errorf("event data %q: %w", data, err)
			}
			switch name {
			case "":
				return event{msg: v}, nil
			case "grpc-error":
				r.ended = true
				return event{err: v}, nil
			case "end":
				if v["code"] != float64(0) {
					return event{}, fmt.Errorf("end event %q: want code 0", data)
				}
				r.ended, name, data = true, "", ""
				continue
			}
			return event{}, fmt.Errorf("unknown event %q", name)
		case strings.HasPrefix(line, ":"): // a comment
		case strings.HasPrefix(line, "event: "):
			name = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			data += strings.TrimPrefix(line, "data: ")
		case line == "retry: 86400000" && name != "":
			// The final event's: a reconnection would wait a day.
		default:
			return event{}, fmt.Errorf("unexpected SSE line %q", line)
		}
	}
}

// all reads every event to the end of the body.
func (r *reader) all(t *testing.T) []event {
	t.Helper()
	var out []event
	for {
		ev, err := r.next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, ev)
	}
}

// formats are the three ways of writing a server stream, as a client asks
// for them (Accept) or a deployment sets them (an option).
var formats = []struct {
	name   string
	opts   []transcoding.Option
	accept string
	ct     string
}{
	{name: "envelope by default", ct: "application/json"},
	{name: "envelope for application/json", accept: "application/json", ct: "application/json"},
	{name: "ndjson by accept", accept: "application/x-ndjson", ct: "application/x-ndjson"},
	{name: "ndjson by option", opts: []transcoding.Option{transcoding.WithStreamFormat(transcoding.StreamNDJSON)}, accept: "*/*", ct: "application/x-ndjson"},
	{name: "sse by accept", accept: "text/event-stream", ct: "text/event-stream"},
}

func titles(t *testing.T, evs []event, path string) []string {
	t.Helper()
	var out []string
	for _, ev := range evs {
		if ev.err != nil {
			out = append(out, fmt.Sprintf("error %v", ev.err["code"]))
			continue
		}
		s, _ := get(ev.msg, path).(string)
		out = append(out, s)
	}
	return out
}

// TestStreamingExportBooks streams ExportBooks in every format over both
// protocols: the messages, a failure after the first one as the final
// typed error line or event, and the status trailers.
func TestStreamingExportBooks(t *testing.T) {
	for _, f := range formats {
		t.Run(f.name, func(t *testing.T) {
			e := newEnv(t, f.opts...)
			for _, p := range protocols(e, t) {
				t.Run(p.name, func(t *testing.T) {
					accept := []string{}
					if f.accept != "" {
						accept = []string{"Accept", f.accept}
					}
					res := e.open(t, context.Background(), p.client, "GET", "/v1/shelves/scifi/books:export", nil, accept...)
					if res.StatusCode != 200 || res.Header.Get("Content-Type") != f.ct {
						t.Fatalf("status %d, Content-Type %q", res.StatusCode, res.Header.Get("Content-Type"))
					}
					if got := res.Header.Get("Grpc-Metadata-X-Demo-Method"); got != "/sluice.demo.library.v1.LibraryService/ExportBooks" {
						t.Errorf("upstream header metadata %q", got)
					}
					evs := newReader(t, res).all(t)
					if got := strings.Join(titles(t, evs, "book.title"), "|"); got != "Dune|The Left Hand of Darkness" {
						t.Errorf("messages %s", got)
					}
					if p.name == "h2c" && res.Trailer.Get("Grpc-Status") != "0" {
						t.Errorf("h2c trailers %v, want Grpc-Status 0", res.Trailer)
					}

					// Upstream failure after the first message.
					res = e.open(t, context.Background(), p.client, "GET", "/v1/shelves/scifi/books:export", nil,
						append(accept, "Grpc-Metadata-X-Demo-Fail-After", "1", "Grpc-Metadata-X-Demo-Fail", "DATA_LOSS:torn page")...)
					if res.StatusCode != 200 {
						t.Fatalf("status %d", res.StatusCode)
					}
					evs = newReader(t, res).all(t)
					if got := strings.Join(titles(t, evs, "book.title"), "|"); got != "Dune|error 15" {
						t.Fatalf("events %s", got)
					}
					last := evs[len(evs)-1].err
					if msg, _ := last["message"].(string); !strings.Contains(msg, "torn page") {
						t.Errorf("error %v", last)
					}
					if details, _ := last["details"].([]any); len(details) == 0 || get(details[0], "@type") == nil {
						t.Errorf("error details are not typed: %v", last)
					}
					wantTrailer := ""
					if p.name == "h2c" {
						wantTrailer = "15"
					}
					if got := res.Trailer.Get("Grpc-Status"); got != wantTrailer {
						t.Errorf("Grpc-Status trailer %q, want %q", got, wantTrailer)
					}
					if p.name == "h2c" && !strings.Contains(res.Trailer.Get("Grpc-Message"), "torn page") {
						t.Errorf("Grpc-Message trailer %q", res.Trailer.Get("Grpc-Message"))
					}
				})
			}
		})
	}
}

// TestStreamingTrailersOverHTTP1 checks that an HTTP/1.1 client that says
// it reads trailers (TE: trailers) gets the status and the upstream's
// trailer metadata as chunked trailers.
func TestStreamingTrailersOverHTTP1(t *testing.T) {
	e := newEnv(t)
	res := e.open(t, context.Background(), e.client, "GET", "/v1/shelves/scifi/books:export", nil,
		"TE", "trailers", "Accept", "application/x-ndjson", "Grpc-Metadata-X-Demo-Fail-After", "1", "Grpc-Metadata-X-Demo-Fail", "DATA_LOSS:50% gone")
	if res.ProtoMajor != 1 {
		t.Fatalf("protocol %s", res.Proto)
	}
	evs := newReader(t, res).all(t)
	if len(evs) != 2 || evs[1].err == nil {
		t.Fatalf("events %v", evs)
	}
	if got := res.Trailer.Get("Grpc-Status"); got != "15" {
		t.Errorf("Grpc-Status trailer %q, want 15 (trailers %v)", got, res.Trailer)
	}
	// Percent-encoded as in gRPC.
	if got := res.Trailer.Get("Grpc-Message"); !strings.Contains(got, "50%25 gone") {
		t.Errorf("Grpc-Message trailer %q", got)
	}
}

// TestStreamingErrorBeforeFirstMessage checks that a stream that fails
// before any message answers with its HTTP status: an ordinary REST error
// in NDJSON and SSE, grpc-gateway's {"error": ...} in envelope mode.
func TestStreamingErrorBeforeFirstMessage(t *testing.T) {
	e := newEnv(t)
	for _, f := range formats[:5] {
		if f.opts != nil {
			continue
		}
		t.Run(f.name, func(t *testing.T) {
			r := e.do(t, "GET", "/v1/shelves/nope/books:export", "", "Accept", f.accept)
			if r.code != 404 || r.header.Get("Content-Type") != "application/json" {
				t.Fatalf("%d %q %s", r.code, r.header.Get("Content-Type"), r.raw)
			}
			body := mustJSONLine(t, r.raw)
			if f.ct == "application/json" {
				body, _ = body["error"].(map[string]any)
			}
			if get(body, "code") != float64(5) {
				t.Errorf("body %s", r.raw)
			}
		})
	}
}

// TestStreamingWatchShelf checks that a watch's response headers arrive
// as soon as the upstream registered the watch, before any change, so
// that a client can make a change knowing it will see it.
func TestStreamingWatchShelf(t *testing.T) {
	e := newEnv(t)
	for _, p := range protocols(e, t) {
		for i, f := range formats {
			if f.opts != nil {
				continue
			}
			t.Run(p.name+"/"+f.name, func(t *testing.T) {
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				start := time.Now()
				// Do returns with the headers: before any change exists.
				res := e.open(t, ctx, p.client, "GET", "/v1/shelves/classics:watch", nil, "Accept", f.accept)
				if res.StatusCode != 200 || res.Header.Get("Content-Type") != f.ct {
					t.Fatalf("status %d, Content-Type %q", res.StatusCode, res.Header.Get("Content-Type"))
				}
				if d := time.Since(start); d > 8*time.Second {
					t.Errorf("headers took %v: they should not wait for a change", d)
				}
				if res.Header.Get("Grpc-Metadata-X-Demo-Method") == "" {
					t.Errorf("upstream header metadata missing: %v", res.Header)
				}
				title := fmt.Sprintf("Watched %d", i)
				if r := e.do(t, "POST", "/v1/shelves/classics/books", `{"title":"`+title+`"}`); r.code != 200 {
					t.Fatalf("create: %d %s", r.code, r.raw)
				}
				ev, err := newReader(t, res).next()
				if err != nil {
					t.Fatal(err)
				}
				if get(ev.msg, "changeType") != "CHANGE_TYPE_CREATED" || get(ev.msg, "book.title") != title {
					t.Errorf("event %v", ev)
				}
			})
		}
	}
}

// TestStreamingImportBooks streams an import as NDJSON (with blank lines)
// and as concatenated and pretty-printed JSON values, over both protocols.
func TestStreamingImportBooks(t *testing.T) {
	e := newEnv(t)
	bodies := []struct {
		name, ct, body string
	}{
		{"ndjson", "application/x-ndjson",
			"{\"parent\":\"shelves/classics\",\"book\":{\"title\":\"A\"},\"bookId\":\"%[1]s-a\"}\n\n" +
				"{\"book\":{\"title\":\"\"}}\r\n" +
				"{\"book\":{\"title\":\"B\"},\"bookId\":\"%[1]s-b\"}"},
		{"concatenated and pretty", "application/json",
			"{\n  \"parent\": \"shelves/classics\",\n  \"book\": {\"title\": \"A\"},\n  \"bookId\": \"%[1]s-a\"\n}" +
				"{\"book\":{\"title\":\"\"}} {\"book\":{\"title\":\"B\"},\"bookId\":\"%[1]s-b\"}\n"},
	}
	for _, p := range protocols(e, t) {
		for _, b := range bodies {
			t.Run(p.name+"/"+b.name, func(t *testing.T) {
				id := strings.ReplaceAll(p.name+"-"+b.name, " ", "-")
				res := e.open(t, context.Background(), p.client, "POST", "/v1/books:import",
					strings.NewReader(fmt.Sprintf(b.body, id)), "Content-Type", b.ct)
				raw, err := io.ReadAll(res.Body)
				if err != nil {
					t.Fatal(err)
				}
				if res.StatusCode != 200 {
					t.Fatalf("%d %s", res.StatusCode, raw)
				}
				summary := mustJSONLine(t, raw)
				names, _ := summary["bookNames"].([]any)
				if len(names) != 2 || names[0] != "shelves/classics/books/"+id+"-a" || names[1] != "shelves/classics/books/"+id+"-b" ||
					summary["failedCount"] != float64(1) {
					t.Errorf("summary %s", raw)
				}
			})
		}
	}
}

// TestStreamingImportIsLazy checks that streamed messages reach the
// upstream as they are sent, before the body ends: the first book exists
// while the client still holds the request open.
func TestStreamingImportIsLazy(t *testing.T) {
	e := newEnv(t)
	for _, p := range protocols(e, t) {
		t.Run(p.name, func(t *testing.T) {
			pr, pw := io.Pipe()
			done := make(chan response, 1)
			go func() {
				req, _ := http.NewRequest("POST", e.base+"/v1/books:import", pr)
				req.Header.Set("Content-Type", "application/x-ndjson")
				res, err := p.client.Do(req)
				if err != nil {
					done <- response{code: -1, raw: []byte(err.Error())}
					return
				}
				raw, _ := io.ReadAll(res.Body)
				_ = res.Body.Close()
				done <- response{code: res.StatusCode, raw: raw}
			}()
			book := "lazy-" + p.name
			if _, err := fmt.Fprintf(pw, `{"parent":"shelves/classics","bookId":%q,"book":{"title":"Lazy"}}`+"\n", book); err != nil {
				t.Fatal(err)
			}
			deadline := time.Now().Add(5 * time.Second)
			for {
				if r := e.do(t, "GET", "/v1/shelves/classics/books/"+book, ""); r.code == 200 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("the first message did not reach the upstream while the body was open")
				}
				time.Sleep(5 * time.Millisecond)
			}
			_ = pw.Close()
			r := <-done
			if r.code != 200 || !bytes.Contains(r.raw, []byte(`"importedCount":1`)) && !bytes.Contains(r.raw, []byte(`"importedCount": 1`)) {
				t.Errorf("%d %s", r.code, r.raw)
			}
		})
	}
}

// TestStreamingDiscussBook runs the bidirectional DiscussBook half-duplex
// (the whole request body, then the responses) in every format, and a
// failure after the first answer.
func TestStreamingDiscussBook(t *testing.T) {
	e := newEnv(t)
	for _, p := range protocols(e, t) {
		for _, f := range formats {
			if f.opts != nil {
				continue
			}
			t.Run(p.name+"/"+f.name, func(t *testing.T) {
				body := `{"name":"shelves/classics/books/moby-dick","text":"whales?"}` + "\n" + `{"text":"indeed","speaker":"ann"}` + "\n"
				res := e.open(t, context.Background(), p.client, "POST", "/v1/books:discuss", strings.NewReader(body),
					"Accept", f.accept, "Content-Type", "application/x-ndjson")
				if res.StatusCode != 200 || res.Header.Get("Content-Type") != f.ct {
					t.Fatalf("status %d, Content-Type %q", res.StatusCode, res.Header.Get("Content-Type"))
				}
				got := strings.Join(titles(t, newReader(t, res).all(t), "text"), "|")
				if got != `reader on "Moby-Dick": whales?|ann on "Moby-Dick": indeed` {
					t.Errorf("answers %s", got)
				}
				body = `{"name":"shelves/classics/books/moby-dick","text":"hi"}` + "\n" + `{"text":"fail"}` + "\n"
				res = e.open(t, context.Background(), p.client, "POST", "/v1/books:discuss", strings.NewReader(body), "Accept", f.accept)
				got = strings.Join(titles(t, newReader(t, res).all(t), "text"), "|")
				if got != `reader on "Moby-Dick": hi|error 10` {
					t.Errorf("events %s", got)
				}
				if p.name == "h2c" && res.Trailer.Get("Grpc-Status") != "10" {
					t.Errorf("trailers %v", res.Trailer)
				}
			})
		}
	}
}

// TestStreamingDiscussBookFullDuplex talks with the librarian one line at
// a time: each answer is read before the next message is written, over
// HTTP/2 and over HTTP/1.1 (full duplex, which Go's client allows).
func TestStreamingDiscussBookFullDuplex(t *testing.T) {
	e := newEnv(t)
	for _, p := range protocols(e, t) {
		t.Run(p.name, func(t *testing.T) {
			pr, pw := io.Pipe()
			defer pw.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			type result struct {
				res *http.Response
				err error
			}
			started := make(chan result, 1)
			go func() {
				req, _ := http.NewRequestWithContext(ctx, "POST", e.base+"/v1/books:discuss", pr)
				req.Header.Set("Content-Type", "application/x-ndjson")
				req.Header.Set("Accept", "application/x-ndjson")
				res, err := p.client.Do(req)
				started <- result{res, err}
			}()
			say := func(msg string) {
				t.Helper()
				if _, err := io.WriteString(pw, msg+"\n"); err != nil {
					t.Fatal(err)
				}
			}
			say(`{"name":"shelves/classics/books/moby-dick","text":"one"}`)
			r := <-started
			if r.err != nil {
				t.Fatal(r.err)
			}
			defer r.res.Body.Close()
			rd := newReader(t, r.res)
			for i, text := range []string{"one", "two", "three"} {
				if i > 0 {
					say(`{"text":"` + text + `"}`)
				}
				ev, err := rd.next()
				if err != nil {
					t.Fatalf("answer %d: %v", i, err)
				}
				if got := get(ev.msg, "text"); got != `reader on "Moby-Dick": `+text {
					t.Fatalf("answer %d: %v", i, ev)
				}
			}
			_ = pw.Close()
			if _, err := rd.next(); !errors.Is(err, io.EOF) {
				t.Errorf("after the last answer: %v", err)
			}
		})
	}
}
