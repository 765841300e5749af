package frontdoor

import (
	"crypto/tls"
	"log/slog"
	"time"
)

// DefaultSniffTimeout is how long a connection may take, from accept, to
// complete its TLS handshake and show enough bytes to be classified.
const DefaultSniffTimeout = 10 * time.Second

// An Option configures a [Door].
type Option interface{ apply(*config) }

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

type config struct {
	tls          *tls.Config
	sniffTimeout time.Duration
	logger       *slog.Logger
}

func defaultConfig() config {
	return config{
		sniffTimeout: DefaultSniffTimeout,
		logger:       slog.New(slog.DiscardHandler),
	}
}

// WithTLS makes the door terminate TLS on every connection with a clone of
// cfg, whose NextProtos are replaced by "h2" and "http/1.1" (also on configs
// returned by cfg.GetConfigForClient). cfg must be able to produce a
// certificate. Without WithTLS (or with a nil cfg) the door serves
// cleartext HTTP/1.1 and HTTP/2 with prior knowledge (h2c).
func WithTLS(cfg *tls.Config) Option {
	return optionFunc(func(c *config) { c.tls = cfg })
}

// WithSniffTimeout bounds the time from accept to classification, TLS
// handshake included; a connection that has not been classified by then is
// closed. It defaults to [DefaultSniffTimeout] and must be positive.
func WithSniffTimeout(d time.Duration) Option {
	return optionFunc(func(c *config) { c.sniffTimeout = d })
}

// WithLogger sets where the door reports accept errors (Error) and
// connections it dropped while classifying them (Debug). The default discards.
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(c *config) { c.logger = l })
}
