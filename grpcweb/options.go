package grpcweb

import (
	"errors"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
)

// Dispatcher runs an adapted call through the gateway's one interceptor
// chain and proxy. *server.Dispatcher implements it.
type Dispatcher interface {
	Dispatch(ss grpc.ServerStream, method string, clientStreams, serverStreams bool) error
}

// Contracts is what the handler needs of one snapshot of the contracts:
// the methods it serves (a method they do not describe is UNIMPLEMENTED),
// and the types google.protobuf.Any values of +json messages resolve to.
type Contracts interface {
	// Method returns the method of a path "/pkg.Service/Method".
	Method(path string) (protoreflect.MethodDescriptor, bool)
	// Types resolves the message types of Any values.
	Types() *protoregistry.Types
}

// Resolver returns the current contracts, or nil while none are loaded.
// The handler calls it once per request and keeps the result for the
// whole call, so a reload never changes a call in flight.
type Resolver func() Contracts

// Option configures a Handler.
type Option interface{ apply(*config) }

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

type config struct {
	maxRecv int
}

// defaultMaxRecvMsgSize is grpc-go's default limit on a received message.
const defaultMaxRecvMsgSize = 4 << 20

func defaultConfig() config {
	return config{maxRecv: defaultMaxRecvMsgSize}
}

// WithMaxRecvMsgSize bounds a request message, after decompression
// (default 4MiB, as grpc-go's): a larger length prefix, or a compressed
// message that inflates past it, fails the call with RESOURCE_EXHAUSTED
// before the message is read.
func WithMaxRecvMsgSize(n int) Option {
	return optionFunc(func(c *config) { c.maxRecv = n })
}

func (c *config) validate() error {
	if c.maxRecv <= 0 {
		return errors.New("max receive message size must be positive")
	}
	return nil
}
