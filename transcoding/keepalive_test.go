package transcoding_test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"
)

// TestStreamedBodyKeepAlive checks HTTP/1.1 connection reuse around
// streamed request bodies, over a raw connection so that the test, not a
// client library, decides what is sent when. A call answered before its
// body was read must say Connection: close and close: net/http would
// otherwise try to discard the rest once the handler returned, give up
// (the client still holds it) and read the rest of the body as the next
// request, which a client reusing the connection sees as a reset
// (golang/go#68560). A client stream read to its end keeps the
// connection.
func TestStreamedBodyKeepAlive(t *testing.T) {
	e := newEnv(t)
	dial := func(t *testing.T) (net.Conn, *bufio.Reader) {
		t.Helper()
		c, err := net.DialTimeout("tcp", e.addr, 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		// A bound for failure only: every read below is answered at once.
		_ = c.SetDeadline(time.Now().Add(20 * time.Second))
		return c, bufio.NewReader(c)
	}

	for _, c := range []struct {
		name, path, accept, first string
		code                      int
	}{
		{"refused before the call", "/v1/books:import", "application/x-ndjson", `{}`, 406},
		{"import refused by the upstream", "/v1/books:import", "application/json", `{"parent":"nope","book":{"title":"x"}}`, 400},
		{"discuss refused by the upstream", "/v1/books:discuss", "application/x-ndjson", `{"name":"shelves/classics/books/nope","text":"x"}`, 404},
	} {
		t.Run("unread/"+c.name, func(t *testing.T) {
			conn, br := dial(t)
			// The first message in a chunk, and the body goes on.
			chunk := c.first + "\n"
			req := "POST " + c.path + " HTTP/1.1\r\nHost: sluice\r\nContent-Type: application/x-ndjson\r\nAccept: " + c.accept +
				"\r\nTransfer-Encoding: chunked\r\n\r\n" + strconv.FormatInt(int64(len(chunk)), 16) + "\r\n" + chunk + "\r\n"
			if _, err := io.WriteString(conn, req); err != nil {
				t.Fatal(err)
			}
			res, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, res.Body)
			if res.StatusCode != c.code {
				t.Errorf("status %d, want %d", res.StatusCode, c.code)
			}
			if !res.Close {
				t.Fatalf("answer with the body unread keeps the connection (headers %v)", res.Header)
			}
			// The server closes it; what the client still sends is
			// discarded first, for a while, so that the answer is not
			// destroyed by a reset.
			_, _ = io.WriteString(conn, "0\r\n\r\n")
			if _, err := br.ReadByte(); err == nil {
				t.Error("the server sent more after a response saying Connection: close")
			}
		})
	}

	t.Run("read to its end", func(t *testing.T) {
		conn, br := dial(t)
		for i := range 3 {
			body := `{"parent":"shelves/classics","book":{"title":"x"}}` + "\n"
			req := "POST /v1/books:import HTTP/1.1\r\nHost: sluice\r\nContent-Type: application/x-ndjson\r\nContent-Length: " +
				strconv.Itoa(len(body)) + "\r\n\r\n" + body
			if _, err := io.WriteString(conn, req); err != nil {
				t.Fatalf("call %d: %v", i, err)
			}
			res, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatalf("call %d: %v", i, err)
			}
			raw, _ := io.ReadAll(res.Body)
			if res.StatusCode != http.StatusOK {
				t.Fatalf("call %d: status %d: %s", i, res.StatusCode, raw)
			}
			if res.Close {
				t.Fatalf("call %d: a client stream read to its end closes the connection", i)
			}
		}
	})
}
