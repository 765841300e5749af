package server

import (
	"encoding/json"
	"net/http"

	"github.com/sluice-dev/sluice/server/explorer"
)

// ReadinessCheck reports whether one part of the gateway is ready to serve
// and, when it is not, why.
type ReadinessCheck func() (ready bool, reason string)

// AdminOption configures NewAdminHandler.
type AdminOption interface{ applyAdmin(*adminConfig) }

type adminOptionFunc func(*adminConfig)

func (f adminOptionFunc) applyAdmin(c *adminConfig) { f(c) }

type adminConfig struct {
	metrics http.Handler
	openapi http.Handler
}

// WithMetricsHandler serves h (Prometheus' exposition, see
// telemetry/metrics) at GET /metrics.
func WithMetricsHandler(h http.Handler) AdminOption {
	return adminOptionFunc(func(c *adminConfig) { c.metrics = h })
}

// WithOpenAPI serves h (the live document, see openapi.Handler) at
// /openapi.json, and the API explorer that renders it at /docs. h answers
// cross-origin requests itself when it should (wrap it in a cors.Handler):
// the explorer's page is on this port, but other tools read the document
// from pages of their own.
func WithOpenAPI(h http.Handler) AdminOption {
	return adminOptionFunc(func(c *adminConfig) { c.openapi = h })
}

// NewAdminHandler serves the admin endpoints:
//
//	/healthz  200 while the process is up (liveness)
//	/readyz   200 when every check passes, 503 otherwise, with a JSON body
//	          naming each check and its state (readiness)
//	/metrics  the Prometheus metrics, with WithMetricsHandler
//	/openapi.json, /docs  the OpenAPI document and the API explorer
//	          (Swagger UI, embedded), with WithOpenAPI
//
// checks is keyed by name ("contracts", "upstreams"); it is read, never
// changed.
func NewAdminHandler(checks map[string]ReadinessCheck, opts ...AdminOption) (http.Handler, error) {
	var cfg adminConfig
	for _, o := range opts {
		o.applyAdmin(&cfg)
	}
	mux := http.NewServeMux()
	if cfg.metrics != nil {
		mux.Handle("GET /metrics", cfg.metrics)
	}
	if cfg.openapi != nil {
		// Every method: the document's handler answers preflights and
		// refuses what it does not serve, as the gateway's errors do.
		mux.Handle("/openapi.json", cfg.openapi)
		ex, err := explorer.NewHandler("/docs", "/openapi.json", explorer.WithTitle("sluice API explorer"))
		if err != nil {
			return nil, err
		}
		mux.Handle("/docs", ex)
		mux.Handle("/docs/", ex)
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		type result struct {
			Ready  bool   `json:"ready"`
			Reason string `json:"reason,omitempty"`
		}
		all := true
		results := make(map[string]result, len(checks))
		for name, check := range checks {
			ok, why := check()
			results[name] = result{Ready: ok, Reason: why}
			all = all && ok
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		if !all {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		_ = json.NewEncoder(w).Encode(struct {
			Ready  bool              `json:"ready"`
			Checks map[string]result `json:"checks"`
		}{all, results})
	})
	return mux, nil
}
