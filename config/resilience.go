package config

import (
	"strconv"
	"time"
)

// StatusCode is a gRPC status code by its canonical name, as
// google.rpc.Code spells it ("UNAVAILABLE", "DEADLINE_EXCEEDED").
type StatusCode string

var statusCodes = []string{
	"OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND",
	"ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
	"ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS",
	"UNAUTHENTICATED",
}

func (StatusCode) choices() []string { return append([]string(nil), statusCodes...) }

// Number returns the code's number (UNAVAILABLE is 14), or -1 for a name
// that is not a status code.
func (c StatusCode) Number() int {
	for i, s := range statusCodes {
		if string(c) == s {
			return i
		}
	}
	return -1
}

// Retry retries calls to an upstream's idempotent methods on the codes
// that say an attempt may succeed elsewhere or later.
type Retry struct {
	Methods           []string     `yaml:"methods" doc:"Method patterns whose calls are retried, written as for {methods}; only name idempotent methods. Empty turns retries off. Only calls with one request message are retried, and never once a response message has been forwarded; response headers of these methods wait for the first response message."`
	MaxAttempts       int          `yaml:"max_attempts" doc:"Attempts of one call, the first included (2 to 10)."`
	Codes             []StatusCode `yaml:"codes" doc:"Status codes that make an attempt worth retrying, including codes an upstream sends in trailers after its headers."`
	InitialBackoff    Duration     `yaml:"initial_backoff" doc:"Upper bound of the random wait before the first retry; each further retry multiplies it by {backoff_multiplier}, up to {max_backoff}. An upstream's {grpc-retry-pushback-ms} takes precedence."`
	MaxBackoff        Duration     `yaml:"max_backoff" doc:"Largest wait before a retry."`
	BackoffMultiplier float64      `yaml:"backoff_multiplier" doc:"Growth of the wait from one retry to the next (at least 1)."`
	PerTryTimeout     Duration     `yaml:"per_try_timeout" doc:"Longest one attempt may take before it is abandoned and retried; 0: only the caller's deadline bounds the call. No retry starts when its wait would end past the caller's deadline."`
	BudgetTokens      float64      `yaml:"budget_tokens" doc:"Retry budget shared by all calls to the upstream (gRPC retry throttling): the count starts here, each retryable failure takes one token, each success gives back {budget_ratio}, and retries stop while the count is at or below half of this."`
	BudgetRatio       float64      `yaml:"budget_ratio" doc:"Tokens a successful call gives back to the retry budget (0 to 1); the default 0.1 keeps retries to about a tenth more calls on a failing upstream."`
}

// OutlierDetection ejects failing upstream addresses.
type OutlierDetection struct {
	Enabled             bool         `yaml:"enabled" doc:"Eject an upstream address after {consecutive_failures} calls in a row failed with one of {failure_codes}, read from headers or trailers; it gets no calls until its ejection ends. When every address is ejected, calls fail at once with {UNAVAILABLE}."`
	ConsecutiveFailures int          `yaml:"consecutive_failures" doc:"Failures in a row that eject an address (at least 1)."`
	FailureCodes        []StatusCode `yaml:"failure_codes" doc:"Codes that count as failures; other codes (except {CANCELLED}) reset the count."`
	BaseEjectionTime    Duration     `yaml:"base_ejection_time" doc:"Length of a first ejection; each further ejection without a success in between lasts one more of these, up to {max_ejection_time}."`
	MaxEjectionTime     Duration     `yaml:"max_ejection_time" doc:"Longest ejection."`
}

func defaultRetry() Retry {
	return Retry{
		MaxAttempts:       3,
		Codes:             []StatusCode{"UNAVAILABLE"},
		InitialBackoff:    Duration(50 * time.Millisecond),
		MaxBackoff:        Duration(time.Second),
		BackoffMultiplier: 2,
		BudgetTokens:      10,
		BudgetRatio:       0.1,
	}
}

func defaultOutlierDetection() OutlierDetection {
	return OutlierDetection{
		ConsecutiveFailures: 5,
		FailureCodes:        []StatusCode{"UNAVAILABLE", "INTERNAL", "UNKNOWN", "DATA_LOSS"},
		BaseEjectionTime:    Duration(30 * time.Second),
		MaxEjectionTime:     Duration(5 * time.Minute),
	}
}

func (r *Retry) validate(errs *Errors, path string) {
	for i, m := range r.Methods {
		if err := ValidPattern(m); err != nil {
			errs.add(path+".methods["+strconv.Itoa(i)+"]", err.Error())
		}
	}
	if r.MaxAttempts < 2 || r.MaxAttempts > 10 {
		errs.add(path+".max_attempts", "must be between 2 and 10")
	}
	checkCodes(errs, path+".codes", r.Codes, false)
	if r.InitialBackoff <= 0 {
		errs.add(path+".initial_backoff", "must be positive")
	}
	if r.MaxBackoff < r.InitialBackoff {
		errs.add(path+".max_backoff", "must be at least initial_backoff")
	}
	if r.BackoffMultiplier < 1 {
		errs.add(path+".backoff_multiplier", "must be at least 1")
	}
	if r.PerTryTimeout < 0 {
		errs.add(path+".per_try_timeout", "must not be negative")
	}
	if r.BudgetTokens <= 0 || r.BudgetTokens > 1000 {
		errs.add(path+".budget_tokens", "must be in (0, 1000]")
	}
	if r.BudgetRatio <= 0 || r.BudgetRatio > 1 {
		errs.add(path+".budget_ratio", "must be in (0, 1]")
	}
}

func (o *OutlierDetection) validate(errs *Errors, path string) {
	if !o.Enabled {
		return
	}
	if o.ConsecutiveFailures < 1 {
		errs.add(path+".consecutive_failures", "must be at least 1")
	}
	checkCodes(errs, path+".failure_codes", o.FailureCodes, true)
	if o.BaseEjectionTime <= 0 {
		errs.add(path+".base_ejection_time", "must be positive")
	}
	if o.MaxEjectionTime < o.BaseEjectionTime {
		errs.add(path+".max_ejection_time", "must be at least base_ejection_time")
	}
}

func checkCodes(errs *Errors, path string, cs []StatusCode, failures bool) {
	for i, c := range cs {
		p := path + "[" + strconv.Itoa(i) + "]"
		switch n := c.Number(); {
		case n < 0:
			errs.add(p, "unknown status code "+strconv.Quote(string(c))+"; use a google.rpc.Code name such as UNAVAILABLE")
		case n == 0 || (failures && c == "CANCELLED"):
			errs.add(p, string(c)+" cannot count as a failure")
		}
	}
}
