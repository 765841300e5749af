package e2e_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/sluice-dev/sluice/registry"
)

// connectCase is one way the no-bypass matrix calls a method over the
// Connect protocol.
type connectCase struct {
	name   string // "http1 POST proto", ...
	client *http.Client
	method string // HTTP method
	ctype  string // Content-Type; "" for GET
	stream bool
	body   []byte
	query  string
}

// connectCases are the Connect calls of a demo method: unary methods by
// POST with proto and JSON (and GET when the contract allows it),
// streaming ones as one empty enveloped message, over HTTP/1.1 and h2c.
func connectCases(m *registry.Method, clients map[string]*http.Client) []connectCase {
	var out []connectCase
	for _, p := range []string{"http1", "h2c"} {
		c := clients[p]
		if m.ClientStreaming() || m.ServerStreaming() {
			out = append(out, connectCase{name: p + " stream proto", client: c, method: http.MethodPost,
				ctype: "application/connect+proto", stream: true, body: []byte{0, 0, 0, 0, 0}})
			continue
		}
		out = append(out,
			connectCase{name: p + " POST proto", client: c, method: http.MethodPost, ctype: "application/proto"},
			connectCase{name: p + " POST json", client: c, method: http.MethodPost, ctype: "application/json", body: []byte("{}")})
		if opts, ok := m.Desc.Options().(*descriptorpb.MethodOptions); ok && opts.GetIdempotencyLevel() == descriptorpb.MethodOptions_NO_SIDE_EFFECTS {
			out = append(out, connectCase{name: p + " GET", client: c, method: http.MethodGet, query: "?encoding=json&message=%7B%7D"})
		}
	}
	return out
}

// connectCall makes one Connect call tagged id and returns the Connect
// error code it ended with ("" for success), and the response headers.
func connectCall(t *testing.T, base, path string, cc connectCase, id string, hdr http.Header) (string, http.Header) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, cc.method, base+path+cc.query, bytes.NewReader(cc.body))
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range hdr {
		req.Header[k] = vs
	}
	if cc.ctype != "" {
		req.Header.Set("Content-Type", cc.ctype)
	}
	req.Header.Set("Connect-Protocol-Version", "1")
	req.Header.Set(testIDKey, id)
	resp, err := cc.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", cc.name, path, err)
	}
	defer resp.Body.Close()
	var e struct {
		Code string `json:"code"`
	}
	if !cc.stream {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		if resp.StatusCode == http.StatusOK {
			return "", resp.Header
		}
		if err := json.Unmarshal(b, &e); err != nil || e.Code == "" {
			t.Fatalf("%s %s: HTTP %d without a Connect error: %q", cc.name, path, resp.StatusCode, b)
		}
		return e.Code, resp.Header
	}
	// A stream: its first message means the call was admitted (a watch
	// goes on), an end-of-stream message first says how it ended.
	var prefix [5]byte
	if _, err := io.ReadFull(resp.Body, prefix[:]); err != nil {
		t.Fatalf("%s %s: HTTP %d, no envelope: %v", cc.name, path, resp.StatusCode, err)
	}
	if prefix[0]&0x02 == 0 {
		return "", resp.Header
	}
	b := make([]byte, binary.BigEndian.Uint32(prefix[1:]))
	if _, err := io.ReadFull(resp.Body, b); err != nil {
		t.Fatal(err)
	}
	var end struct {
		Error *struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	if err := json.Unmarshal(b, &end); err != nil {
		t.Fatalf("%s %s: end-of-stream %q: %v", cc.name, path, b, err)
	}
	if end.Error == nil {
		return "", resp.Header
	}
	return end.Error.Code, resp.Header
}

// decisionOfConnect is the policy decision a Connect error code shows.
func decisionOfConnect(code string) decision {
	switch code {
	case "unauthenticated":
		return unauthenticated
	case "permission_denied":
		return denied
	}
	return admitted
}

// checkConnect runs every Connect case of method with credential cr and
// checks the decision as check does for the other protocols.
func checkConnect(t *testing.T, g *policyGateway, m *registry.Method, cr credential, clients map[string]*http.Client,
	exp decision, check func(via string, got decision, id string, detail string)) {
	t.Helper()
	for _, cc := range connectCases(m, clients) {
		id := newTestID("connect")
		code, hdr := connectCall(t, g.base, m.Path, cc, id, cr.connectHeader())
		via := "connect " + cc.name
		check(via, decisionOfConnect(code), id, code)
		if exp == unauthenticated && hdr.Get("WWW-Authenticate") == "" {
			t.Errorf("%s: unauthenticated without WWW-Authenticate (headers %v)", via, hdr)
		}
		if exp == admitted && len(g.rec.methods(id)) == 0 {
			t.Errorf("%s: admitted call (%s) never reached the upstream", via, fmt.Sprint(code))
		}
	}
}

// connectHeader returns the HTTP headers presenting c to a Connect call:
// its headers are metadata as they are, so the API key is X-Api-Key.
func (c credential) connectHeader() http.Header {
	h := http.Header{}
	if c.bearer != "" {
		h.Set("Authorization", "Bearer "+c.bearer)
	}
	if c.apiKey != "" {
		h.Set("X-Api-Key", c.apiKey)
	}
	return h
}
