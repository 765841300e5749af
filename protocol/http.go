package protocol

import "context"

type httpMethodKey struct{}

// WithHTTPMethod returns a copy of ctx that records the HTTP method of a
// call an HTTP adapter (REST) turned into a stream, for observers: a
// trace's http.request.method. Policies never read it: they are keyed on
// the gRPC method.
func WithHTTPMethod(ctx context.Context, method string) context.Context {
	return context.WithValue(ctx, httpMethodKey{}, method)
}

// HTTPMethod returns the HTTP method recorded in ctx, or "" for a call no
// HTTP adapter marked.
func HTTPMethod(ctx context.Context) string {
	m, _ := ctx.Value(httpMethodKey{}).(string)
	return m
}
