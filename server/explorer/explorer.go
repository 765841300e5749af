// Package explorer serves the API explorer of the admin port: Swagger UI,
// the build pinned by scripts/explorer (npm's swagger-ui-dist) and embedded
// in the binary from dist/, rendering an OpenAPI document that the page
// fetches when it loads. Its "Try it out" calls go wherever the document's
// servers entry points (the gateway), so the gateway's CORS policy must
// allow the explorer's origin.
//
// Swagger UI rather than Redoc (no calls from the page) or Scalar (a
// standalone build twice the size): it executes calls, renders OpenAPI 3.1
// and is the UI most REST users already know. Nothing is fetched from a CDN:
// the page, its script and its stylesheet all come from this handler.
package explorer

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"strings"
)

//go:embed dist
var dist embed.FS

// page is the explorer's HTML; the document's URL travels in a data
// attribute, read by initScript, so the page runs no inline script and a
// strict Content-Security-Policy holds.
var page = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<link rel="icon" type="image/png" href="{{.Prefix}}/favicon-32x32.png">
<link rel="stylesheet" href="{{.Prefix}}/swagger-ui.css">
</head>
<body>
<div id="explorer" data-url="{{.DocumentURL}}"></div>
<script src="{{.Prefix}}/swagger-ui-bundle.js"></script>
<script src="{{.Prefix}}/init.js"></script>
</body>
</html>
`))

// initScript starts Swagger UI on the document. validatorUrl is off: by
// default the page would send the document to a public validator.
const initScript = `"use strict";
window.addEventListener("load", function () {
  var el = document.getElementById("explorer");
  window.ui = SwaggerUIBundle({
    url: el.dataset.url,
    domNode: el,
    deepLinking: true,
    validatorUrl: null,
    displayRequestDuration: true,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout"
  });
});
`

// contentSecurityPolicy lets the page run its own script and styles only;
// calls ("Try it out") may go to any origin, since the gateway's address
// is the document's to say.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; " +
	"img-src 'self' data:; font-src 'self' data:; connect-src *; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// Option configures NewHandler.
type Option interface{ apply(*config) }

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

type config struct {
	title string
}

// WithTitle sets the page's title (default "API explorer").
func WithTitle(title string) Option {
	return optionFunc(func(c *config) { c.title = title })
}

// Handler serves the explorer: the page at its prefix and its assets below
// it. It is safe for concurrent use.
type Handler struct {
	prefix string
	page   []byte
	assets http.Handler
}

var _ http.Handler = (*Handler)(nil)

// NewHandler returns the explorer mounted at prefix (such as "/docs": the
// page is served at prefix, its assets at prefix+"/...") for the OpenAPI
// document at documentURL (such as "/openapi.json", resolved by the
// browser against the page's URL).
func NewHandler(prefix, documentURL string, opts ...Option) (*Handler, error) {
	if prefix == "" || prefix[0] != '/' || strings.HasSuffix(prefix, "/") {
		return nil, fmt.Errorf("explorer: prefix %q must start with / and not end with one", prefix)
	}
	if documentURL == "" {
		return nil, errors.New("explorer: empty document URL")
	}
	cfg := config{title: "API explorer"}
	for _, o := range opts {
		o.apply(&cfg)
	}
	var buf bytes.Buffer
	if err := page.Execute(&buf, struct{ Title, Prefix, DocumentURL string }{cfg.title, prefix, documentURL}); err != nil {
		return nil, fmt.Errorf("explorer: render page: %w", err)
	}
	sub, err := fs.Sub(dist, "dist")
	if err != nil {
		return nil, fmt.Errorf("explorer: assets: %w", err)
	}
	return &Handler{
		prefix: prefix,
		page:   buf.Bytes(),
		assets: http.StripPrefix(prefix+"/", http.FileServerFS(sub)),
	}, nil
}

// ServeHTTP answers GET and HEAD: the page at the prefix (the prefix with
// a trailing slash redirects to it), init.js and the embedded assets below
// it, 404 for anything else.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	w.Header().Set("X-Content-Type-Options", "nosniff")
	switch rest, ok := strings.CutPrefix(r.URL.Path, h.prefix); {
	case !ok:
		http.NotFound(w, r)
	case rest == "":
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-cache")
		w.Header().Set("Content-Security-Policy", contentSecurityPolicy)
		w.Header().Set("Referrer-Policy", "no-referrer")
		if r.Method == http.MethodGet {
			_, _ = w.Write(h.page)
		}
	case rest == "/":
		http.Redirect(w, r, h.prefix, http.StatusMovedPermanently)
	case rest == "/init.js":
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
		w.Header().Set("Cache-Control", "no-cache")
		if r.Method == http.MethodGet {
			_, _ = w.Write([]byte(initScript))
		}
	case rest == "/swagger-ui-bundle.js" || rest == "/swagger-ui.css" || rest == "/favicon-32x32.png" ||
		rest == "/LICENSE" || rest == "/NOTICE":
		// The build changes only with the binary; an hour of caching
		// spares reloads two megabytes.
		w.Header().Set("Cache-Control", "public, max-age=3600")
		h.assets.ServeHTTP(w, r)
	default:
		http.NotFound(w, r)
	}
}
