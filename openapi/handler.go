package openapi

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"sync"

	"github.com/sluice-dev/sluice/registry"
)

// Handler serves the OpenAPI document of the current snapshot as JSON on
// GET and HEAD (mount it at /openapi.json). snapshot is called once per
// request; the document is generated once per snapshot and cached, with
// an ETag so clients can revalidate. A snapshot whose routes do not build
// is answered with 500 and the error. It is safe for concurrent use.
func Handler(snapshot func() *registry.Snapshot, opts ...Option) http.Handler {
	return &handler{snapshot: snapshot, opts: opts}
}

type handler struct {
	snapshot func() *registry.Snapshot
	opts     []Option

	mu   sync.Mutex
	snap *registry.Snapshot // the snapshot body and etag belong to
	body []byte
	etag string
	err  error
}

var _ http.Handler = (*handler)(nil)

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	body, etag, err := h.document()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("ETag", etag)
	w.Header().Set("Cache-Control", "no-cache") // revalidate: contracts may reload
	if match := r.Header.Get("If-None-Match"); match == etag {
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
	h.mu.Lock()
	defer h.mu.Unlock()
	if s == h.snap && (h.body != nil || h.err != nil) {
		return h.body, h.etag, h.err
	}
	h.snap, h.body, h.etag, h.err = s, nil, "", nil
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
