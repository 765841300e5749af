// Package conformance holds the harness that runs connectrpc's
// conformance suite (connectrpc.com/conformance) against sluice: the
// suite's runner sends every protocol's test cases through a real `sluice
// serve` to the suite's own reference server as the upstream, so what a
// third-party client sees of sluice's gRPC, gRPC-Web and Connect is
// checked case by case against the protocols' specifications.
//
// cmd/sut is the server under test the runner starts; scripts/conformance
// runs it, one runner configuration per protocol.
package conformance
