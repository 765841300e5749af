package openapi

import "github.com/sluice-dev/sluice/transcoding"

// Option configures Generate and Handler.
type Option interface{ apply(*config) }

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

type config struct {
	title        string
	version      string
	description  string
	servers      []Server
	protoNames   bool
	enumNumbers  bool
	streamFormat transcoding.StreamFormat
	access       AccessPolicy
	routed       func(fullMethod string) bool
	schemes      []SecurityScheme
	sourceInfo   map[string]*sourceFile // by file path
	routeOpts    []transcoding.RouteOption
}

func newConfig(opts []Option) *config {
	c := &config{title: "sluice", streamFormat: transcoding.StreamEnvelope, sourceInfo: map[string]*sourceFile{}}
	for _, o := range opts {
		o.apply(c)
	}
	return c
}

// WithInfo sets the document's title, version and description. By default
// the title is "sluice", the version is derived from the contracts (it
// changes exactly when they do) and there is no description.
func WithInfo(title, version, description string) Option {
	return optionFunc(func(c *config) {
		if title != "" {
			c.title = title
		}
		c.version, c.description = version, description
	})
}

// Server is one base URL the REST API is served at.
type Server struct {
	// URL is the base URL, e.g. "https://api.example.com"; it may hold
	// {variables}.
	URL string
	// Description is shown with the URL.
	Description string
	// Variables gives the default value of each variable of URL.
	Variables map[string]string
}

// WithServers lists the base URLs the API is served at. The document is
// usually read from the admin port, not the port that serves the API, so
// a document meant for clients should say where that is.
func WithServers(servers ...Server) Option {
	return optionFunc(func(c *config) { c.servers = append(c.servers, servers...) })
}

// WithStreamFormat documents server streams as the transcoder writes them
// when the client's Accept names no format (application/json, */* or
// none): pass the transcoder's transcoding.WithStreamFormat value.
// StreamEnvelope (the default) or StreamNDJSON.
func WithStreamFormat(f transcoding.StreamFormat) Option {
	return optionFunc(func(c *config) {
		if f == transcoding.StreamNDJSON {
			c.streamFormat = f
		} else {
			c.streamFormat = transcoding.StreamEnvelope
		}
	})
}

// WithProtoNames documents fields and query parameters by their proto
// names (`page_size`) instead of their JSON names (`pageSize`); use it
// when the REST transcoder runs with transcoding.WithProtoNames(true).
func WithProtoNames(on bool) Option {
	return optionFunc(func(c *config) { c.protoNames = on })
}

// WithEnumNumbers documents enums as their numbers instead of their
// names; use it when the transcoder runs with
// transcoding.WithEnumNumbers(true).
func WithEnumNumbers(on bool) Option {
	return optionFunc(func(c *config) { c.enumNumbers = on })
}

// WithRouted leaves out the operations of methods for which routed
// reports false: methods no upstream serves, which the gateway answers
// with UNIMPLEMENTED (HTTP 501) whatever the request. routed takes gRPC
// method paths ("/pkg.Service/Method") and must be safe for concurrent
// use.
func WithRouted(routed func(fullMethod string) bool) Option {
	return optionFunc(func(c *config) { c.routed = routed })
}

// WithRouteOptions builds the documented routes with opts, as the REST
// transcoder builds them (path prefixes, for one): the document describes
// the routes the gateway serves.
func WithRouteOptions(opts ...transcoding.RouteOption) Option {
	return optionFunc(func(c *config) { c.routeOpts = append(c.routeOpts, opts...) })
}
