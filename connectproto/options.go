package connectproto

import (
	"log/slog"
)

// Option configures a Handler.
type Option interface{ apply(*config) }

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// config is what the options set; defaultConfig holds the defaults.
type config struct {
	maxRecv        int
	compressMin    int
	logger         *slog.Logger
	discardUnknown bool
}

// DefaultMaxMessageBytes is the default bound of one request message,
// grpc-go's default for native calls.
const DefaultMaxMessageBytes = 4 << 20

func defaultConfig() config {
	return config{
		maxRecv:        DefaultMaxMessageBytes,
		compressMin:    1024,
		logger:         slog.New(slog.DiscardHandler),
		discardUnknown: true,
	}
}

// WithMaxMessageBytes bounds one request message, before and after
// decompression (a unary body, or one envelope of a stream). A larger one
// fails the call with RESOURCE_EXHAUSTED without being read. n <= 0 keeps
// the default, DefaultMaxMessageBytes.
func WithMaxMessageBytes(n int) Option {
	return optionFunc(func(c *config) {
		if n > 0 {
			c.maxRecv = n
		}
	})
}

// WithCompressMinBytes sets the smallest response message the handler
// gzips when the client accepts it (default 1 KiB): below that, gzip costs
// more CPU than the bytes it saves are worth. 0 compresses every message.
func WithCompressMinBytes(n int) Option {
	return optionFunc(func(c *config) {
		if n >= 0 {
			c.compressMin = n
		}
	})
}

// WithLogger sets where the handler reports request headers it drops,
// once per name (default: nowhere).
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(c *config) {
		if l != nil {
			c.logger = l
		}
	})
}

// WithDiscardUnknown controls whether JSON request fields the contract
// does not know are dropped (the default, as Connect's JSON codec does) or
// fail the call with INVALID_ARGUMENT.
func WithDiscardUnknown(on bool) Option {
	return optionFunc(func(c *config) { c.discardUnknown = on })
}
