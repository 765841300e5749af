package config

import (
	"errors"
	"strconv"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/sluice-dev/sluice/upstream"
	"github.com/sluice-dev/sluice/upstream/outlier"
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
	MaxEjectionPercent  int          `yaml:"max_ejection_percent" doc:"Largest share of the upstream's addresses ejected at once, in percent (1 to 100): an address is ejected only while fewer than this share are, so one always may be; the default 10 (grpc-go's) ejects a second address only from eleven addresses on."`
}

// defaultRetry is package upstream's default retry policy, in the
// configuration's types: one source of defaults.
func defaultRetry() Retry {
	d := upstream.DefaultRetryPolicy()
	return Retry{
		MaxAttempts:       d.MaxAttempts,
		Codes:             codeNames(d.Codes),
		InitialBackoff:    Duration(d.InitialBackoff),
		MaxBackoff:        Duration(d.MaxBackoff),
		BackoffMultiplier: d.BackoffMultiplier,
		PerTryTimeout:     Duration(d.PerTryTimeout),
		BudgetTokens:      d.BudgetTokens,
		BudgetRatio:       d.BudgetRatio,
	}
}

// defaultOutlierDetection is package outlier's default configuration, in
// the configuration's types.
func defaultOutlierDetection() OutlierDetection {
	d := outlier.DefaultConfig()
	return OutlierDetection{
		ConsecutiveFailures: d.ConsecutiveFailures,
		FailureCodes:        codeNames(d.FailureCodes),
		BaseEjectionTime:    Duration(d.BaseEjectionTime),
		MaxEjectionTime:     Duration(d.MaxEjectionTime),
		MaxEjectionPercent:  d.MaxEjectionPercent,
	}
}

// Policy returns the runtime retry policy r configures. Codes that are not
// status code names become an invalid code, which the policy's validation
// refuses.
func (r *Retry) Policy() upstream.RetryPolicy {
	return upstream.RetryPolicy{
		Methods:           r.Methods,
		MaxAttempts:       r.MaxAttempts,
		Codes:             StatusCodes(r.Codes),
		InitialBackoff:    time.Duration(r.InitialBackoff),
		MaxBackoff:        time.Duration(r.MaxBackoff),
		BackoffMultiplier: r.BackoffMultiplier,
		PerTryTimeout:     time.Duration(r.PerTryTimeout),
		BudgetTokens:      r.BudgetTokens,
		BudgetRatio:       r.BudgetRatio,
	}
}

// Config returns the runtime outlier detection o configures, whether or
// not it is enabled.
func (o *OutlierDetection) Config() outlier.Config {
	return outlier.Config{
		ConsecutiveFailures: o.ConsecutiveFailures,
		FailureCodes:        StatusCodes(o.FailureCodes),
		BaseEjectionTime:    time.Duration(o.BaseEjectionTime),
		MaxEjectionTime:     time.Duration(o.MaxEjectionTime),
		MaxEjectionPercent:  o.MaxEjectionPercent,
	}
}

// StatusCodes returns the codes cs name; a name that is not a status code
// becomes a code past the last one.
func StatusCodes(cs []StatusCode) []codes.Code {
	out := make([]codes.Code, len(cs))
	for i, c := range cs {
		if n := c.Number(); n >= 0 {
			out[i] = codes.Code(n)
		} else {
			out[i] = codes.Code(len(statusCodes))
		}
	}
	return out
}

func codeNames(cs []codes.Code) []StatusCode {
	out := make([]StatusCode, len(cs))
	for i, c := range cs {
		out[i] = StatusCode(statusCodes[c])
	}
	return out
}

// The runtime packages own the checks of these settings; validation
// places their findings at the settings' paths. Code names are the
// configuration's own concern, checked here first.

func (r *Retry) validate(errs *Errors, path string) {
	checkCodes(errs, path+".codes", r.Codes, false)
	addFieldErrors(errs, path, r.Policy().Validate())
}

func (o *OutlierDetection) validate(errs *Errors, path string) {
	if !o.Enabled {
		return
	}
	checkCodes(errs, path+".failure_codes", o.FailureCodes, true)
	addFieldErrors(errs, path, o.Config().Validate())
}

// addFieldErrors adds each of the joined errors of a runtime validation
// at path.field, skipping fields that already have a problem (an unknown
// code name is reported once, by checkCodes).
func addFieldErrors(errs *Errors, path string, err error) {
	if err == nil {
		return
	}
	list := []error{err}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		list = j.Unwrap()
	}
	for _, e := range list {
		var field, problem string
		var re *upstream.FieldError
		var oe *outlier.FieldError
		switch {
		case errors.As(e, &re):
			field, problem = re.Field, re.Problem
		case errors.As(e, &oe):
			field, problem = oe.Field, oe.Problem
		default:
			errs.add(path, e.Error())
			continue
		}
		p := path + "." + field
		if !hasProblem(*errs, p) {
			errs.add(p, problem)
		}
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

func hasProblem(errs Errors, path string) bool {
	for _, e := range errs {
		if e.Path == path {
			return true
		}
	}
	return false
}
