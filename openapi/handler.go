package openapi

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strings"
	"sync"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/sluice-dev/sluice/registry"
)

// Handler serves the OpenAPI document of the current snapshot as JSON on
// GET and HEAD (mount it at /openapi.json). snapshot is called once per
// request; the document is generated once per set of contracts (snapshots
// with one Fingerprint) and cached, with an ETag so clients can revalidate
// (If-None-Match, weak or strong, lists and "*"). A snapshot whose routes do not build is answered with 500;
// errors are google.rpc.Status JSON, as everywhere on the gateway's HTTP
// side. It is safe for concurrent use.
func Handler(snapshot func() *registry.Snapshot, opts ...Option) http.Handler {
	return &handler{snapshot: snapshot, opts: opts}
}

type handler struct {
	snapshot func() *registry.Snapshot
	opts     []Option

	mu sync.Mutex
	// fp is the fingerprint of the snapshot body and etag belong to: not
	// the snapshot itself, which the cache would keep in memory next to
	// the current one after a reload until the document is asked for
	// again.
	fp   [sha256.Size]byte
	body []byte
	etag string
	err  error
}

var _ http.Handler = (*handler)(nil)

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		writeError(w, http.StatusMethodNotAllowed, status.Newf(codes.Unimplemented, "method %s is not allowed; allowed: GET, HEAD", r.Method))
		return
	}
	body, etag, err := h.document()
	if err != nil {
		writeError(w, http.StatusInternalServerError, status.New(codes.Internal, err.Error()))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("ETag", etag)
	w.Header().Set("Cache-Control", "no-cache") // revalidate: contracts may reload
	if noneMatch(r.Header.Values("If-None-Match"), etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	if r.Method == http.MethodHead {
		return
	}
	_, _ = w.Write(body)
}

// document returns the cached document of the current snapshot,
// generating it when the snapshot changed. Generation holds the lock, so
// a reload is generated once however many requests arrive.
func (h *handler) document() ([]byte, string, error) {
	s := h.snapshot()
	fp := registry.Fingerprint(s)
	h.mu.Lock()
	defer h.mu.Unlock()
	if fp == h.fp && (h.body != nil || h.err != nil) {
		return h.body, h.etag, h.err
	}
	h.fp, h.body, h.etag, h.err = fp, nil, "", nil
	doc, err := Generate(s, h.opts...)
	if err == nil {
		h.body, err = Marshal(doc)
	}
	if err != nil {
		h.err = err
		return nil, "", err
	}
	sum := sha256.Sum256(h.body)
	h.etag = `"` + hex.EncodeToString(sum[:12]) + `"`
	return h.body, h.etag, nil
}

// noneMatch reports whether If-None-Match header values name etag (a
// strong "..." tag), so that the answer is 304: RFC 9110 section 13.1.2
// compares weakly (W/"x" matches "x"), takes comma-separated lists over one
// or several header lines, and "*" matches any current document. A
// malformed list matches from its valid start only.
func noneMatch(values []string, etag string) bool {
	for _, v := range values {
		for {
			v = strings.TrimLeft(v, " \t,")
			if v == "" {
				break
			}
			if v[0] == '*' {
				return true
			}
			v = strings.TrimPrefix(v, "W/")
			if v == "" || v[0] != '"' {
				break
			}
			end := strings.IndexByte(v[1:], '"')
			if end < 0 {
				break
			}
			if v[:end+2] == etag {
				return true
			}
			v = v[end+2:]
		}
	}
	return false
}

// writeError answers with httpStatus and st as a google.rpc.Status JSON
// body, the form of every other error the gateway's HTTP side writes.
func writeError(w http.ResponseWriter, httpStatus int, st *status.Status) {
	body, err := protojson.Marshal(st.Proto())
	if err != nil { // a Status without details always marshals
		body = []byte(`{"code":13,"message":"marshal error"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(httpStatus)
	_, _ = w.Write(body)
}
