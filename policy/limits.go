package policy

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"github.com/sluice-dev/sluice/config"
	"github.com/sluice-dev/sluice/interceptors/concurrency"
	"github.com/sluice-dev/sluice/interceptors/flow"
	"github.com/sluice-dev/sluice/interceptors/ratelimit"
)

// limitKey turns limits.key into the key function the limiters share.
func limitKey(spec string, trusted []netip.Prefix) (func(context.Context, string) (string, bool), error) {
	if spec == "" {
		return nil, nil
	}
	if spec == "method" {
		return concurrency.MethodKey(), nil
	}
	k, err := ratelimit.ParseKey(spec, trusted)
	if err != nil {
		return nil, fmt.Errorf("limits.key: %w", err)
	}
	return k, nil
}

func concurrencyLimiter(l config.Limits, trusted []netip.Prefix) (*concurrency.Limiter, error) {
	limited := l.MaxInFlight > 0 || l.MaxInFlightPerKey > 0
	var opts []concurrency.Option
	for _, m := range l.Methods {
		if m.MaxInFlight > 0 || m.MaxInFlightPerKey > 0 {
			limited = true
			opts = append(opts, concurrency.WithRule(concurrency.Rule{Methods: m.Methods, MaxInFlight: m.MaxInFlight, MaxInFlightPerKey: m.MaxInFlightPerKey}))
		}
	}
	if !limited {
		return nil, nil
	}
	key, err := limitKey(l.Key, trusted)
	if err != nil {
		return nil, err
	}
	if key != nil {
		opts = append(opts, concurrency.WithKey(key))
	}
	opts = append(opts,
		concurrency.WithMaxInFlight(l.MaxInFlight),
		concurrency.WithMaxInFlightPerKey(l.MaxInFlightPerKey),
		concurrency.WithQueueTimeout(time.Duration(l.QueueTimeout)))
	c, err := concurrency.New(opts...)
	if err != nil {
		return nil, fmt.Errorf("limits: %w", err)
	}
	return c, nil
}

func flowController(l config.Limits, trusted []netip.Prefix) (*flow.Controller, error) {
	opts := []flow.Option{flow.WithSendStallTimeout(time.Duration(l.SendStallTimeout))}
	key, err := limitKey(l.Key, trusted)
	if err != nil {
		return nil, err
	}
	if key != nil {
		opts = append(opts, flow.WithKey(key))
	}
	for _, m := range l.Methods {
		if m.MaxRecvMsgSize > 0 || m.MaxSendMsgSize > 0 || m.MessagesPerSecond > 0 || m.MessagesPerSecondPerKey > 0 {
			opts = append(opts, flow.WithRule(flow.Rule{
				Methods:                 m.Methods,
				MaxRecvMsgSize:          int(m.MaxRecvMsgSize),
				MaxSendMsgSize:          int(m.MaxSendMsgSize),
				MessagesPerSecond:       float64(m.MessagesPerSecond),
				MessagesPerSecondPerKey: float64(m.MessagesPerSecondPerKey),
				Burst:                   m.Burst,
			}))
		}
	}
	c, err := flow.New(opts...)
	if err != nil {
		return nil, fmt.Errorf("limits: %w", err)
	}
	return c, nil
}
