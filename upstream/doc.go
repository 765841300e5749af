// Package upstream owns the gateway's side towards the upstream gRPC
// services: the pool of connections (dial options, TLS, service config,
// client-side health checks), the route table that picks an upstream for
// a method by its most specific pattern, and retries of calls that failed
// before their first response message, with their budget. The
// outlier-detection load-balancing policy lives in package
// upstream/outlier.
//
// Package server's proxy asks a Pool for the connection of each call and
// marks its calls with FrameCall; nothing here decodes a message.
package upstream
