package telemetry

import (
	"context"
	"fmt"
	"reflect"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// The names under which the policies' refusals are recorded (and counted,
// as the policy label of sluice_policy_refusals_total).
const (
	PolicyAuthn       = "authn"
	PolicyAuthz       = "authz"
	PolicyRateLimit   = "rate_limit"
	PolicyConcurrency = "concurrency"
	PolicyDeadline    = "deadline"
	PolicyFlow        = "flow"
)

// maxPolicies bounds how many policies Policies wraps.
const maxPolicies = 8

// Policy is one policy interceptor of the chain and the name its
// refusals are recorded under.
type Policy struct {
	Name        string
	Interceptor grpc.StreamServerInterceptor
}

// Policies returns the policies' interceptors, in the order given, each
// wrapped so that a refusal is recorded in the call's Call with the
// policy's name, followed by one more interceptor that marks the end of
// the policies. Put them in the chain as they come, in one run.
//
// A policy refused a call when it returned an error without calling the
// rest of the chain (authentication, a limit), or returned an error other
// than the one the rest of the chain returned (a deadline or a stall that
// ended the call under way). When several did, the outermost one is
// recorded: its status is the one the client saw. The policies
// themselves know nothing of this, and calls without a Call (no
// StreamServerInterceptor in front) pass unrecorded. The wrappers
// allocate nothing per call.
//
// subject, when not nil, names the authenticated caller from a context
// inside the policies (authn's identity); the first policy, or the end,
// that finds one records it in the Call for the access log, so a caller
// that authenticated and was then refused is named too.
func Policies(subject func(context.Context) string, ps ...Policy) ([]grpc.StreamServerInterceptor, error) {
	if len(ps) > maxPolicies {
		return nil, fmt.Errorf("telemetry: %d policies, at most %d", len(ps), maxPolicies)
	}
	out := make([]grpc.StreamServerInterceptor, 0, len(ps)+1)
	for i, p := range ps {
		if p.Interceptor == nil {
			return nil, fmt.Errorf("telemetry: policy %q has no interceptor", p.Name)
		}
		out = append(out, guard(i+1, p.Name, p.Interceptor, subject))
	}
	end := len(ps) + 1
	return append(out, func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		c := FromContext(ss.Context())
		if c == nil {
			return handler(srv, ss)
		}
		c.enter(end, ss.Context(), subject)
		err := handler(srv, ss)
		c.pmu.Lock()
		c.returned[end] = err
		c.pmu.Unlock()
		return err
	}), nil
}

// guard records the refusals of the policy at position pos.
func guard(pos int, name string, in grpc.StreamServerInterceptor, subject func(context.Context) string) grpc.StreamServerInterceptor {
	rateLimit := name == PolicyRateLimit
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		c := FromContext(ss.Context())
		if c == nil {
			return in(srv, ss, info, handler)
		}
		c.enter(pos, ss.Context(), subject)
		err := in(srv, ss, info, handler)
		c.pmu.Lock()
		passed := c.reached > pos
		if err != nil && (!passed || !sameError(err, c.returned[pos+1])) {
			c.refusedBy, c.reason = name, ReasonOf(status.Code(err))
		}
		if rateLimit {
			c.rateLimited = 1
			if !passed && err != nil {
				c.rateLimited = 2
			}
		}
		c.returned[pos] = err
		c.pmu.Unlock()
		return err
	}
}

// enter records that the policy at pos started, and the subject its
// context names if none is recorded yet.
func (c *Call) enter(pos int, ctx context.Context, subject func(context.Context) string) {
	var sub string
	c.pmu.Lock()
	c.reached = pos
	need := c.subject == "" && subject != nil
	c.pmu.Unlock()
	if !need {
		return
	}
	if sub = subject(ctx); sub == "" {
		return
	}
	c.pmu.Lock()
	c.subject = sub
	c.pmu.Unlock()
}

// sameError compares errors by identity, without panicking on an error
// whose dynamic type is not comparable.
func sameError(a, b error) bool {
	if a == nil || b == nil {
		return a == b
	}
	ta := reflect.TypeOf(a)
	if ta != reflect.TypeOf(b) || !ta.Comparable() {
		return false
	}
	return a == b
}

// ReasonOf names a refusal's status code in lower snake case
// ("resource_exhausted"): a small, fixed set of label values.
func ReasonOf(c codes.Code) string {
	s := c.String()
	b := make([]byte, 0, len(s)+4)
	for i := 0; i < len(s); i++ {
		ch := s[i]
		if ch >= 'A' && ch <= 'Z' {
			if i > 0 && s[i-1] >= 'a' && s[i-1] <= 'z' {
				b = append(b, '_')
			}
			ch += 'a' - 'A'
		}
		b = append(b, ch)
	}
	return string(b)
}
