// Package concurrency bounds how many calls are in flight at once: on the
// whole gateway, per method pattern, and per key (a caller identity, a
// metadata value, a peer address). A call that finds its limit reached is
// refused at once with RESOURCE_EXHAUSTED, a google.rpc.RetryInfo detail
// and a "retry-after" response header (REST: HTTP 429 with Retry-After),
// or waits for a free slot up to a configured queue timeout.
//
// A call holds its slots until its handler returns, so a stream counts for
// as long as it is open: a per-key limit on a streaming method is a limit
// on the streams one caller may hold open. Admission costs one
// non-blocking channel operation per limit that applies; there is no
// global lock.
//
// In the chain it sits after authentication, authorization and rate
// limiting (so refused callers never take a slot, and an identity key is
// known) and before the deadline and flow interceptors and the proxy.
package concurrency
