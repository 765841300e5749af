// Package ratelimit admits calls at the rate the configured limits allow:
// token buckets keyed by method pattern and by who is calling (an identity,
// an API key name, a client IP address, a metadata value, or nobody in
// particular for a global budget). Several limits may apply to one call;
// the call goes through only when every one of them admits it.
//
// A limit is local (a token bucket in this process) or
// global (a bucket shared by every gateway instance, kept in Redis with the
// GCRA algorithm of github.com/go-redis/redis_rate). In front of each
// global bucket sits a local shadow bucket with the same rate and burst,
// fed only with the calls Redis admitted, and a cache of Redis refusals:
// since one instance can never have admitted more than the whole fleet,
// an empty shadow bucket proves the global one is empty too, and a refusal
// stays valid until the retry delay Redis gave. Both answer without a
// round trip, so a client hammering past its limit costs Redis about one
// request per token, not one per call; calls under the limit cost one
// round trip each.
//
// When Redis cannot be reached, global limits fail open (they degrade to
// the local shadow bucket, so each instance still admits at most the
// global rate) or closed (calls are refused with UNAVAILABLE), as
// configured. Every call takes its token from the shadow bucket before
// it asks Redis, and gives it back if Redis refuses, so failing open holds
// from the first failed round trip on: the calls that were waiting on it
// were already counted, however many arrived at once. The failure is logged once per interval; Redis is left alone
// for a retry interval and then probed by a single call, so the limiter
// recovers by itself without hammering a Redis that is down.
//
// A refused call ends with RESOURCE_EXHAUSTED and a google.rpc.RetryInfo
// detail. The limiter also sets response header metadata that the REST
// adapter turns into HTTP headers: "retry-after" (seconds, on refusals)
// and the IETF draft RateLimit header fields "ratelimit-limit",
// "ratelimit-remaining" and "ratelimit-reset" (seconds until the bucket is
// full again) of the most constrained limit, on every call a limit applies
// to.
//
// In the chain it sits after authentication and authorization (so an
// identity key is known and refused callers spend no tokens) and before
// the concurrency limit, the deadline and the proxy.
package ratelimit
