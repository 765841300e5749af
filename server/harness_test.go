package server_test

import "google.golang.org/grpc"

// anyStream opens a call as a stream both ways, whatever the method's real
// shape: the gateway and the test upstreams do not know it either.
var anyStream = &grpc.StreamDesc{ServerStreams: true, ClientStreams: true}
