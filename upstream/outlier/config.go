package outlier

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"google.golang.org/grpc/balancer"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/serviceconfig"
)

// Config is the outlier detection of one upstream. Zero fields take the
// defaults of DefaultConfig (see WithDefaults).
type Config struct {
	// ConsecutiveFailures ejects an address after this many calls in a row
	// ended with one of FailureCodes (default 5).
	ConsecutiveFailures int
	// FailureCodes are the codes that count as failures (default
	// UNAVAILABLE, INTERNAL, UNKNOWN, DATA_LOSS: the server's faults).
	// Other codes, except CANCELLED, reset the count.
	FailureCodes []codes.Code
	// BaseEjectionTime and MaxEjectionTime bound ejections: each further
	// ejection without a success in between lasts one BaseEjectionTime
	// longer, up to MaxEjectionTime (defaults 30s and 5m). An ejected
	// address gets no calls; when every ready address is ejected, calls
	// fail at once with UNAVAILABLE.
	BaseEjectionTime time.Duration
	MaxEjectionTime  time.Duration
	// MaxEjectionPercent caps the share of an upstream's addresses ejected
	// at once, from 1 to 100 (default 10, grpc-go's): an address is ejected
	// only while fewer than this percentage of the addresses are, so one
	// address always may be, and with the default a second one only from
	// eleven addresses on.
	MaxEjectionPercent int
}

// DefaultConfig returns the defaults that zero fields of a Config take.
func DefaultConfig() Config {
	return Config{
		ConsecutiveFailures: 5,
		FailureCodes:        []codes.Code{codes.Unavailable, codes.Internal, codes.Unknown, codes.DataLoss},
		BaseEjectionTime:    30 * time.Second,
		MaxEjectionTime:     5 * time.Minute,
		MaxEjectionPercent:  10,
	}
}

// WithDefaults returns c with its zero fields set from DefaultConfig.
func (c Config) WithDefaults() Config {
	d := DefaultConfig()
	if c.ConsecutiveFailures == 0 {
		c.ConsecutiveFailures = d.ConsecutiveFailures
	}
	if len(c.FailureCodes) == 0 {
		c.FailureCodes = d.FailureCodes
	}
	if c.BaseEjectionTime == 0 {
		c.BaseEjectionTime = d.BaseEjectionTime
	}
	if c.MaxEjectionTime == 0 {
		c.MaxEjectionTime = d.MaxEjectionTime
	}
	if c.MaxEjectionPercent == 0 {
		c.MaxEjectionPercent = d.MaxEjectionPercent
	}
	return c
}

// FieldError is one invalid setting of a Config, named as in sluice's
// configuration file ("consecutive_failures", "failure_codes[1]").
type FieldError struct {
	Field   string
	Problem string
}

func (e *FieldError) Error() string { return "outlier detection: " + e.Field + ": " + e.Problem }

// Validate reports every invalid setting of c as it is, without defaults,
// each as a *FieldError, joined. It is the one check of these settings:
// the configuration file's validation calls it too.
func (c Config) Validate() error {
	var errs []error
	add := func(field, problem string) { errs = append(errs, &FieldError{Field: field, Problem: problem}) }
	if c.ConsecutiveFailures < 1 {
		add("consecutive_failures", "must be at least 1")
	}
	for i, fc := range c.FailureCodes {
		if fc == codes.OK || fc == codes.Canceled || fc > codes.Unauthenticated {
			add("failure_codes["+strconv.Itoa(i)+"]", fmt.Sprintf("code %v cannot count as a failure", fc))
		}
	}
	if c.BaseEjectionTime <= 0 {
		add("base_ejection_time", "must be positive")
	}
	if c.MaxEjectionTime < c.BaseEjectionTime {
		add("max_ejection_time", "must be at least base_ejection_time")
	}
	if c.MaxEjectionPercent < 1 || c.MaxEjectionPercent > 100 {
		add("max_ejection_percent", "must be between 1 and 100")
	}
	return errors.Join(errs...)
}

// lbConfig is the policy's configuration in a service config, as
// ServiceConfig writes it and the builder parses it.
type lbConfig struct {
	serviceconfig.LoadBalancingConfig `json:"-"`

	ChildPolicy         string   `json:"childPolicy"`
	ConsecutiveFailures int      `json:"consecutiveFailures"`
	BaseEjectionTime    string   `json:"baseEjectionTime"`
	MaxEjectionTime     string   `json:"maxEjectionTime"`
	FailureCodes        []uint32 `json:"failureCodes"`
	MaxEjectionPercent  int      `json:"maxEjectionPercent"`

	base, maxEject time.Duration
	failures       map[codes.Code]bool
}

// ServiceConfig returns the loadBalancingConfig entry that selects the
// policy over child ("round_robin", "pick_first") with c, for a
// service config marshalled with encoding/json.
func ServiceConfig(child string, c Config) map[string]any {
	fc := make([]uint32, len(c.FailureCodes))
	for i, code := range c.FailureCodes {
		fc[i] = uint32(code)
	}
	return map[string]any{Name: lbConfig{
		ChildPolicy:         child,
		ConsecutiveFailures: c.ConsecutiveFailures,
		BaseEjectionTime:    c.BaseEjectionTime.String(),
		MaxEjectionTime:     c.MaxEjectionTime.String(),
		FailureCodes:        fc,
		MaxEjectionPercent:  c.MaxEjectionPercent,
	}}
}

func parseConfig(js json.RawMessage) (*lbConfig, error) {
	var c lbConfig
	if err := json.Unmarshal(js, &c); err != nil {
		return nil, fmt.Errorf("%s: %w", Name, err)
	}
	if balancer.Get(c.ChildPolicy) == nil || c.ChildPolicy == Name {
		return nil, fmt.Errorf("%s: unknown child policy %q", Name, c.ChildPolicy)
	}
	var err1, err2 error
	c.base, err1 = time.ParseDuration(c.BaseEjectionTime)
	c.maxEject, err2 = time.ParseDuration(c.MaxEjectionTime)
	if err := errors.Join(err1, err2); err != nil {
		return nil, fmt.Errorf("%s: %w", Name, err)
	}
	c.failures = map[codes.Code]bool{}
	fcs := make([]codes.Code, len(c.FailureCodes))
	for i, fc := range c.FailureCodes {
		c.failures[codes.Code(fc)] = true
		fcs[i] = codes.Code(fc)
	}
	o := Config{ConsecutiveFailures: c.ConsecutiveFailures, FailureCodes: fcs, BaseEjectionTime: c.base, MaxEjectionTime: c.maxEject, MaxEjectionPercent: c.MaxEjectionPercent}
	if err := o.Validate(); err != nil {
		return nil, err
	}
	return &c, nil
}
