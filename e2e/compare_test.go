package e2e_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// request is one REST request of the differential table.
type request struct {
	method string
	target string // path and query, sent verbatim as the request target
	body   []byte
	header map[string]string
}

// response is what the differential test compares of one answer.
type response struct {
	status int
	header http.Header // response headers and trailers, merged
	body   []byte
}

// send sends r to base (an http://host:port URL) with its target exactly
// as written, so malformed escapes and raw non-ASCII bytes reach the
// server unchanged.
func send(tb testing.TB, c *http.Client, base string, r request) response {
	tb.Helper()
	u, err := url.Parse(base)
	if err != nil {
		tb.Fatal(err)
	}
	var body io.Reader
	if r.body != nil {
		body = bytes.NewReader(r.body)
	}
	req, err := http.NewRequest(r.method, base, body)
	if err != nil {
		tb.Fatal(err)
	}
	req.URL = &url.URL{Scheme: u.Scheme, Host: u.Host, Opaque: r.target}
	for k, v := range r.header {
		req.Header.Set(k, v)
	}
	res, err := c.Do(req)
	if err != nil {
		tb.Fatalf("%s %s: %v", r.method, r.target, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		tb.Fatalf("%s %s: read body: %v", r.method, r.target, err)
	}
	h := res.Header.Clone()
	for k, vs := range res.Trailer {
		h[k] = append(h[k], vs...)
	}
	return response{status: res.StatusCode, header: h, body: b}
}

// comparedHeader reports whether a header takes part in the comparison:
// the content type, Allow, and what crossed from upstream metadata.
// Date, Content-Length, Trailer declarations and transport headers do not.
func comparedHeader(k string) bool {
	k = http.CanonicalHeaderKey(k)
	return k == "Content-Type" || k == "Allow" ||
		strings.HasPrefix(k, "Grpc-Metadata-") || strings.HasPrefix(k, "Grpc-Trailer-")
}

// grpcContentType is the upstream's Content-Type response header as
// grpc-gateway forwards it (always "application/grpc"). sluice treats it as
// a transport header and never forwards it: a deliberate difference that
// would show on every successful call, so it is compared only in the one
// case that documents it (see restCase.withGRPCContentType).
const grpcContentType = "Grpc-Metadata-Content-Type"

// deadlineHeader carries the milliseconds left of a call's deadline as the
// demo upstream saw it: a wall-clock figure, so only its presence is
// compared (the one normalisation of headers).
const deadlineHeader = "Grpc-Metadata-X-Demo-Deadline-Ms"

func relevantHeaders(h http.Header, withGRPCContentType bool) map[string][]string {
	out := map[string][]string{}
	for k, vs := range h {
		k = http.CanonicalHeaderKey(k)
		if !comparedHeader(k) || (k == grpcContentType && !withGRPCContentType) {
			continue
		}
		vs = slices.Clone(vs)
		if k == deadlineHeader {
			vs = []string{"<set>"}
		}
		slices.Sort(vs)
		out[k] = vs
	}
	return out
}

// jsonValues decodes a body as a sequence of JSON values (one for a unary
// response, one per message for a stream); ok is false when the body is
// not JSON.
func jsonValues(b []byte) (vals []any, ok bool) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	for {
		var v any
		err := dec.Decode(&v)
		if err == io.EOF {
			return vals, len(vals) > 0
		}
		if err != nil {
			return nil, false
		}
		vals = append(vals, v)
	}
}

// statusBody is the comparable part of a google.rpc.Status JSON body.
type statusBody struct {
	Code    json.Number
	Message string
	Details []string // the @type of each detail, in order
}

// asStatus reports whether v is a google.rpc.Status body and returns its
// code, message and detail types.
func asStatus(v any) (statusBody, bool) {
	m, ok := v.(map[string]any)
	if !ok {
		return statusBody{}, false
	}
	code, ok := m["code"].(json.Number)
	if !ok {
		return statusBody{}, false
	}
	msg, _ := m["message"].(string)
	s := statusBody{Code: code, Message: msg}
	details, _ := m["details"].([]any)
	for _, d := range details {
		dm, _ := d.(map[string]any)
		typ, _ := dm["@type"].(string)
		s.Details = append(s.Details, typ)
	}
	return s, true
}

// diffResponses lists how got differs from want: status, relevant headers,
// and the body — JSON compared semantically, error bodies by code, message
// and detail types, anything else byte for byte.
func diffResponses(want, got response, withGRPCContentType bool) []string {
	var diffs []string
	if want.status != got.status {
		diffs = append(diffs, fmt.Sprintf("status: grpc-gateway %d, sluice %d", want.status, got.status))
	}
	wh, gh := relevantHeaders(want.header, withGRPCContentType), relevantHeaders(got.header, withGRPCContentType)
	keys := map[string]bool{}
	for k := range wh {
		keys[k] = true
	}
	for k := range gh {
		keys[k] = true
	}
	for _, k := range slices.Sorted(maps.Keys(keys)) {
		if !slices.Equal(wh[k], gh[k]) {
			diffs = append(diffs, fmt.Sprintf("header %s: grpc-gateway %q, sluice %q", k, wh[k], gh[k]))
		}
	}
	wv, wok := jsonValues(want.body)
	gv, gok := jsonValues(got.body)
	switch {
	case wok && gok && len(wv) == 1 && len(gv) == 1:
		ws, wIsStatus := asStatus(wv[0])
		gs, gIsStatus := asStatus(gv[0])
		if wIsStatus && gIsStatus && want.status >= 400 {
			if !reflect.DeepEqual(ws, gs) {
				diffs = append(diffs, fmt.Sprintf("error: grpc-gateway %+v, sluice %+v", ws, gs))
			}
		} else if !reflect.DeepEqual(wv[0], gv[0]) {
			diffs = append(diffs, fmt.Sprintf("body:\ngrpc-gateway %s\nsluice       %s", want.body, got.body))
		}
	case wok && gok:
		if !reflect.DeepEqual(wv, gv) {
			diffs = append(diffs, fmt.Sprintf("body:\ngrpc-gateway %s\nsluice       %s", want.body, got.body))
		}
	default:
		if !bytes.Equal(want.body, got.body) {
			diffs = append(diffs, fmt.Sprintf("body (not JSON):\ngrpc-gateway %q\nsluice       %q", clip(want.body), clip(got.body)))
		}
	}
	return diffs
}

func clip(b []byte) []byte {
	if len(b) > 300 {
		return append(b[:300:300], "..."...)
	}
	return b
}
