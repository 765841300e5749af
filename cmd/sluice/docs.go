package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"slices"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/sluice-dev/sluice/config"
	"github.com/sluice-dev/sluice/methodpattern"
	"github.com/sluice-dev/sluice/openapi"
	"github.com/sluice-dev/sluice/policy"
	"github.com/sluice-dev/sluice/registry"
	"github.com/sluice-dev/sluice/transcoding"
)

// loadContracts builds the snapshot serve would start with: the embedded
// demo's contracts when no input names any, the descriptor sets and .proto
// files otherwise. Without comments, loading is faster, for what documents
// nothing.
func loadContracts(in *inputs, cfg *config.Config, comments bool) (*registry.Snapshot, error) {
	var linked []registry.Source
	if in.demo() {
		linked = append(linked, demoContracts()...)
	}
	cs, err := fileSources(cfg, linked)
	if err != nil {
		return nil, err
	}
	if !comments {
		for i, src := range cs.sources {
			cs.sources[i] = registry.WithoutComments(src)
		}
	}
	reg, err := newRegistry(cs)
	if err != nil {
		return nil, err
	}
	return reg.Snapshot(), nil
}

// docsCommand runs `sluice routes` and `sluice openapi`: the same inputs as
// serve, printing the REST route table or the OpenAPI document.
func docsCommand(name string, args []string, stdout, stderr io.Writer) int {
	var in inputs
	fs := newFlagSet(name, stderr)
	in.register(fs)
	if err := in.parse(fs, args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "sluice %s: %v\n", name, err)
		return 2
	}
	cfg, err := in.load()
	if err != nil {
		fmt.Fprintf(stderr, "sluice %s: invalid configuration:\n%v\n", name, err)
		return 1
	}
	if in.demo() {
		// Document the demo as serve runs it.
		cfg.Upstreams = append(cfg.Upstreams, demoUpstreamConfig())
		applyDemoPolicy(cfg)
	}
	snap, err := loadContracts(&in, cfg, name == "openapi")
	if err != nil {
		fmt.Fprintf(stderr, "sluice %s: %v\n", name, err)
		return 1
	}
	switch name {
	case "routes":
		err = openapi.WriteRoutes(stdout, snap, shapeOptions(cfg)...)
	case "openapi":
		var doc []byte
		doc, err = openAPIDocument(cfg, snap)
		if err == nil {
			_, err = stdout.Write(append(doc, '\n'))
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "sluice %s: %v\n", name, err)
		return 1
	}
	return 0
}

// openAPIOptions documents the REST API as cfg serves it: JSON names and
// enums, the stream format, where the API is served (rest.openapi_servers,
// or gatewayAddr: the main listener's address), and how each method is
// authenticated (by the same authz rules the chain enforces).
func openAPIOptions(cfg *config.Config, gatewayAddr string) ([]openapi.Option, error) {
	opts := []openapi.Option{
		openapi.WithProtoNames(cfg.REST.ProtoNames),
		openapi.WithEnumNumbers(cfg.REST.EnumNumbers),
		openapi.WithStreamFormat(transcoding.StreamFormat(cfg.REST.StreamFormat)),
		openapi.WithRouteOptions(shapeOptions(cfg)...),
	}
	if len(cfg.Upstreams) > 0 {
		// Methods no upstream serves answer 501: not documented. With no
		// upstream at all the document is all there is to ask for
		// (`sluice openapi --descriptor-set`), so every method stays.
		var patterns []methodpattern.Pattern
		for _, u := range cfg.Upstreams {
			for _, m := range u.Methods {
				if p, err := methodpattern.Compile(m); err == nil { // validated
					patterns = append(patterns, p)
				}
			}
		}
		opts = append(opts, openapi.WithRouted(func(method string) bool {
			return slices.ContainsFunc(patterns, func(p methodpattern.Pattern) bool { return p.Matches(method) })
		}))
	}
	if len(cfg.REST.OpenAPIServers) > 0 {
		for _, u := range cfg.REST.OpenAPIServers {
			opts = append(opts, openapi.WithServers(openapi.Server{URL: u}))
		}
	} else {
		opts = append(opts, openapi.WithServers(openAPIServer(cfg, gatewayAddr)))
	}
	if !policy.Configured(&cfg.Policy) {
		return opts, nil // open to anyone, as the chain says when it starts
	}
	az, err := policy.Authorizer(cfg.Policy.Authz)
	if err != nil {
		return nil, err
	}
	access := openapi.AccessFunc(func(method string) (openapi.Access, []string) {
		// Decide without an identity tells the three apart: allowed,
		// UNAUTHENTICATED (credentials needed) or PERMISSION_DENIED.
		switch status.Code(az.Decide(context.Background(), method)) {
		case codes.OK:
			return openapi.AccessAnonymous, nil
		case codes.Unauthenticated:
			providers, _ := az.Accepts(method)
			return openapi.AccessAuthenticated, providers
		}
		return openapi.AccessDenied, nil
	})
	return append(opts, openapi.WithSecurity(access, securitySchemes(&cfg.Policy.Authn)...)), nil
}

// securitySchemes are the configured authentication providers, named as
// authz rules name them.
func securitySchemes(a *config.Authn) []openapi.SecurityScheme {
	var out []openapi.SecurityScheme
	if a.JWT.Configured() {
		out = append(out, openapi.SecurityScheme{Provider: "jwt", Kind: openapi.BearerJWT,
			Description: "A JWT in `Authorization: Bearer <token>`, signed by a key of the issuer's key set."})
	}
	if len(a.APIKeys.Keys) > 0 {
		out = append(out, openapi.SecurityScheme{Provider: "api_key", Kind: openapi.APIKeyHeader, Name: a.APIKeys.Header,
			Description: "An API key in the `" + a.APIKeys.Header + "` header."})
	}
	if a.MTLS.Enabled {
		out = append(out, openapi.SecurityScheme{Provider: "mtls", Kind: openapi.MutualTLS,
			Description: "A client certificate the gateway's TLS verifies."})
	}
	return out
}

// openAPIServer is the main listener's URL, listening on addr. A listener
// on every interface has no one host name clients use, so the host is a
// variable then.
func openAPIServer(cfg *config.Config, addr string) openapi.Server {
	scheme := "http"
	if cfg.TLS.CertFile != "" {
		scheme = "https"
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil { // validated; cannot happen
		return openapi.Server{URL: scheme + "://" + addr}
	}
	if ip, err := netip.ParseAddr(host); host == "" || err == nil && ip.IsUnspecified() {
		return openapi.Server{
			URL:         scheme + "://{host}:" + port,
			Description: "The gateway, which listens on every interface: set the host to one that reaches it.",
			Variables:   map[string]string{"host": "localhost"},
		}
	}
	return openapi.Server{URL: scheme + "://" + net.JoinHostPort(host, port), Description: "The gateway."}
}

func openAPIDocument(cfg *config.Config, snap *registry.Snapshot) ([]byte, error) {
	opts, err := openAPIOptions(cfg, cfg.Listen)
	if err != nil {
		return nil, err
	}
	doc, err := openapi.Generate(snap, opts...)
	if err != nil {
		return nil, err
	}
	return openapi.Marshal(doc)
}
