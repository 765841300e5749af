package main

import (
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	"github.com/sluice-dev/sluice/config"
	"github.com/sluice-dev/sluice/connectproto"
	"github.com/sluice-dev/sluice/cors"
	"github.com/sluice-dev/sluice/grpcweb"
	"github.com/sluice-dev/sluice/httpstatus"
	"github.com/sluice-dev/sluice/policy"
	"github.com/sluice-dev/sluice/registry"
	"github.com/sluice-dev/sluice/server"
)

// newHTTPHandler composes what the gateway serves besides native gRPC, in
// the one order, outermost first:
//
//	CORS -> gRPC-Web (application/grpc-web*) -> Connect -> method media types -> REST
//
// CORS comes first: one policy for every browser protocol, and a
// preflight answered before any of them (or the chain) sees it.
// Each protocol's handler serves its own requests and passes every other
// one to the next. A POST to a method's gRPC path ("/pkg.Service/Method")
// that no protocol claimed and no REST route serves is 415: its content
// type is the problem, not its path.
func newHTTPHandler(cfg *config.Config, reg *registry.Registry, routes *routeTable, d *server.Dispatcher, chain *policy.Chain, logger *slog.Logger) (http.Handler, error) {
	// REST last: it answers whatever no other protocol claimed (404 with
	// a google.rpc.Status when it is off).
	var h http.Handler
	if cfg.REST.Enabled {
		rest, err := newREST(cfg, routes, d, chain, logger)
		if err != nil {
			return nil, err
		}
		h = rest
	}
	h = unsupportedMediaType(reg, routes, h)
	h, err := connectproto.NewHandler(d, reg.Snapshot, h,
		connectproto.WithMaxMessageBytes(int(cfg.Server.MaxRecvMsgSize)), connectproto.WithLogger(logger))
	if err != nil {
		return nil, err
	}
	web, err := grpcweb.NewHandler(d, func() grpcweb.Contracts {
		if snap := reg.Snapshot(); snap != nil {
			return snapshotContracts{snap}
		}
		return nil
	}, h, grpcweb.WithMaxRecvMsgSize(int(cfg.Server.MaxRecvMsgSize)))
	if err != nil {
		return nil, err
	}
	c := cfg.CORS
	if len(c.AllowedOrigins) == 0 {
		return web, nil
	}
	return cors.NewHandler(web, cors.Policy{
		AllowedOrigins:   c.AllowedOrigins,
		AllowedMethods:   c.AllowedMethods,
		AllowedHeaders:   c.AllowedHeaders,
		ExposedHeaders:   c.ExposedHeaders,
		AllowCredentials: c.AllowCredentials,
		MaxAge:           time.Duration(c.MaxAge),
	})
}

// snapshotContracts is one contract snapshot as the browser protocols'
// handlers look methods up.
type snapshotContracts struct{ snap *registry.Snapshot }

func (c snapshotContracts) Method(path string) (protoreflect.MethodDescriptor, bool) {
	m, ok := c.snap.Method(path)
	if !ok {
		return nil, false
	}
	return m.Desc, true
}

func (c snapshotContracts) Types() *protoregistry.Types { return c.snap.Types() }

// unsupportedMediaType answers 415 to a POST on a method's gRPC path that
// reached it (no RPC protocol claimed its content type) and that no REST
// route serves, and passes every other request to next (nil: 404).
func unsupportedMediaType(reg *registry.Registry, routes *routeTable, next http.Handler) http.Handler {
	var errs httpstatus.Writer
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			if snap := reg.Snapshot(); snap != nil {
				if _, ok := snap.Method(r.URL.Path); ok && !routes.Load().Serves(r.Method, r.URL.EscapedPath()) {
					// gRPC's HTTP mapping reads 415 as UNKNOWN. The body is
					// plain text on purpose: Connect and gRPC-Web clients
					// read a JSON error body as their own protocol's error
					// (connectrpc's conformance suite checks they can), and
					// this client spoke neither. Accept-Post names what
					// would have been understood.
					h := w.Header()
					h.Set("Grpc-Status", strconv.Itoa(int(codes.Unknown)))
					h.Set("Accept-Post", "application/grpc, application/grpc-web, application/grpc-web-text, application/proto, application/json, application/connect+proto, application/connect+json")
					http.Error(w, fmt.Sprintf("content type %q is not a gRPC, gRPC-Web or Connect one", r.Header.Get("Content-Type")),
						http.StatusUnsupportedMediaType)
					return
				}
			}
		}
		if next == nil { // REST is off
			errs.WriteStatus(w, status.Newf(codes.NotFound, "no route for %s %s", r.Method, r.URL.EscapedPath()))
			return
		}
		next.ServeHTTP(w, r)
	})
}
