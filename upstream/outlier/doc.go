// Package outlier is a gRPC load-balancing policy that ejects upstream
// addresses after consecutive failed calls. It wraps a child policy
// (round_robin or pick_first): the child chooses among the addresses as
// usual, and the wrapping picker passes over the ejected ones.
//
// grpc-go's own outlier detection ships with xDS only and counts failure
// percentages over intervals; this one reads each call's final status, also
// when it arrives in trailers after response headers, and ejects on a run
// of failures, for ejections that grow while an address keeps failing. As
// grpc-go's does, it never ejects more than a share of the addresses
// (Config.MaxEjectionPercent, 10% by default).
//
// # Registration
//
// grpc-go finds load-balancing policies by name in a process-wide registry
// that is not safe for concurrent use: balancer.Register may only run
// before any grpc.ClientConn exists. Rather than register from init (an
// import side effect), the program calls Register once at start (sluice's
// main does; tests do in TestMain). A connection whose service config
// names the policy (see ServiceConfig) fails to build when it is not
// registered, and Registered lets a constructor say so early.
package outlier
