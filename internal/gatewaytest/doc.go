// Package gatewaytest is the shared harness of sluice's end-to-end tests:
// loopback gRPC upstreams, a real gateway in front of them, grpc-go
// clients, and the goroutine leak check, each stopped through the test's
// cleanups in the right order.
//
// It exists so that the packages that test a gateway over real transports
// (the server, the interceptors, transcoding) start one the same way
// rather than each keeping a copy. Only tests import it; everything it
// starts listens on 127.0.0.1 and fails the test, not the process, when
// it cannot.
package gatewaytest
