package policy

import (
	"fmt"
	"time"

	"github.com/sluice-dev/sluice/config"
	"github.com/sluice-dev/sluice/interceptors/deadline"
)

// deadlines turns policy.deadline into the deadline interceptor's limits.
func deadlines(d *config.Deadline) (*deadline.Deadlines, error) {
	rules := make([]deadline.Rule, len(d.Rules))
	for i, r := range d.Rules {
		rules[i] = deadline.Rule{Methods: r.Methods, Limits: deadlineLimits(r.Default, r.Max, r.Offset, r.MaxStreamDuration, r.IdleTimeout)}
	}
	dl, err := deadline.New(
		deadline.WithLimits(deadlineLimits(d.Default, d.Max, d.Offset, d.MaxStreamDuration, d.IdleTimeout)),
		deadline.WithRules(rules...))
	if err != nil {
		return nil, fmt.Errorf("policy.deadline: %w", err)
	}
	return dl, nil
}

func deadlineLimits(def, maxD, offset, maxStream, idle config.Duration) deadline.Limits {
	return deadline.Limits{
		Default:           time.Duration(def),
		Max:               time.Duration(maxD),
		Offset:            time.Duration(offset),
		MaxStreamDuration: time.Duration(maxStream),
		IdleTimeout:       time.Duration(idle),
	}
}
