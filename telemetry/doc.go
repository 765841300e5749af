// Package telemetry owns the per-call record that the gateway's
// observers share: the request id, the bytes and messages each way, the
// policy that refused the call, and the upstream leg (address, attempts).
//
// One interceptor near the front of the chain (StreamServerInterceptor)
// creates the record, counts at the chain's boundary with one stream
// wrapper, and gives the call its request id. The access log, the
// metrics and the tracing interceptors read the record rather than each
// wrapping the stream again; the policies are wrapped (Policies) so that
// a refusal is attributed to the policy that made it without any policy
// knowing about metrics; the upstream connections report each attempt
// through a gRPC stats handler (AttemptHandler).
//
// The package is a leaf: it imports nothing of sluice, so every layer may
// record into the call it belongs to.
package telemetry
