// Package authz decides, per call, whether the caller may call the method:
// rules keyed on the gRPC method full name, never on HTTP paths, so that
// every protocol and every HTTP binding of a method gets one decision.
//
// A rule allows anonymous callers, requires an authenticated identity
// (optionally holding scopes and meeting claim conditions), or denies.
// The rule with the most specific matching pattern wins: the longest
// pattern once its trailing "*" is dropped, and at equal length the one
// without "*" (the same order as upstream routing). A method no rule
// matches gets the default access (WithDefault), Deny unless set.
//
// Refusals are PERMISSION_DENIED, or UNAUTHENTICATED when a rule needs an
// identity and the call has none (interceptors/authn normally refuses
// those first, with a challenge). Policy also implements authn.MethodPolicy
// so that the same rule says which credentials a method accepts.
package authz

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/sluice-dev/sluice/interceptors/identity"
	"github.com/sluice-dev/sluice/methodpattern"
)

// Access is what a rule allows.
type Access string

// The values of Access.
const (
	// Anonymous admits anyone, with or without credentials.
	Anonymous Access = "anonymous"
	// Authenticated admits a verified identity that meets the rule's
	// providers, scopes and claim conditions.
	Authenticated Access = "authenticated"
	// Deny admits nobody.
	Deny Access = "deny"
)

// Rule decides access to the methods its patterns match.
type Rule struct {
	// Methods are method patterns (methodpattern): a package, service or
	// method full name, or a prefix ending in "*". A pattern may appear in
	// one rule only.
	Methods []string
	// Access is required.
	Access Access
	// Providers whose identities the methods accept, in order of
	// preference (see authn.MethodPolicy); empty accepts every one.
	Providers []string
	// Scopes the identity must all hold. Only with Authenticated.
	Scopes []string
	// Claims are conditions on the identity's claims that must all hold,
	// in the syntax ParseClaimCheck reads. Only with Authenticated.
	Claims []string
}

// Option configures a Policy.
type Option interface{ apply(*options) }

type optionFunc func(*options)

func (f optionFunc) apply(o *options) { f(o) }

type options struct {
	def   Access
	rules []Rule
}

// WithDefault sets the access of methods no rule matches (default: Deny,
// so that a method added upstream stays closed until a rule opens it).
func WithDefault(a Access) Option { return optionFunc(func(o *options) { o.def = a }) }

// WithRules adds rules. Their order does not matter: the most specific
// matching pattern decides. Repeated options add up.
func WithRules(rules ...Rule) Option {
	return optionFunc(func(o *options) { o.rules = append(o.rules, rules...) })
}

// Policy is a compiled rule table. It is immutable and safe for concurrent
// use.
type Policy struct {
	def     Access
	table   methodpattern.Table[*entry]
	entries []*entry // in the order the rules were given
}

type rule struct {
	index     int
	access    Access
	providers []string
	scopes    []string
	claims    []ClaimCheck
}

// entry is one pattern of one rule.
type entry struct {
	pattern  string
	compiled methodpattern.Pattern
	rule     *rule
	patIndex int
}

// New checks the rules and compiles them. A rule needs an access and at
// least one pattern, a pattern may appear in one rule only, and scopes and
// claim conditions belong to Authenticated rules only; errors name the
// rule by its index, as Lint does.
func New(opts ...Option) (*Policy, error) {
	o := options{def: Deny}
	for _, opt := range opts {
		opt.apply(&o)
	}
	if !o.def.valid() {
		return nil, fmt.Errorf("authz: default access %q: want anonymous, authenticated or deny", o.def)
	}
	p := &Policy{def: o.def}
	for i, r := range o.rules {
		cr, err := compileRule(i, r)
		if err != nil {
			return nil, fmt.Errorf("authz: rules[%d]: %w", i, err)
		}
		for k, pat := range r.Methods {
			compiled, err := methodpattern.Compile(pat)
			if err != nil {
				return nil, fmt.Errorf("authz: rules[%d].methods[%d]: %w", i, k, err)
			}
			e := &entry{pattern: pat, compiled: compiled, rule: cr, patIndex: k}
			if err := p.table.Add(pat, e); err != nil {
				return nil, fmt.Errorf("authz: rules[%d].methods[%d]: %w", i, k, err)
			}
			p.entries = append(p.entries, e)
		}
	}
	return p, nil
}

// FieldError is one setting of a Rule that contradicts another, named as
// in sluice's configuration file ("scopes", "claims").
type FieldError struct {
	Field   string
	Problem string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Problem }

// Validate reports the settings of r that its access level makes
// meaningless (scopes or claims without access authenticated), each as a
// *FieldError, joined. It is the one check of them: New calls it, and so
// does the configuration file's validation, which puts its own path in
// front of the field. Patterns, access names and claim syntax are checked
// where they are compiled.
func (r Rule) Validate() error {
	if r.Access == Authenticated {
		return nil
	}
	var errs []error
	if len(r.Scopes) > 0 {
		errs = append(errs, &FieldError{Field: "scopes", Problem: fmt.Sprintf("only applies with access: authenticated, not %s", r.Access)})
	}
	if len(r.Claims) > 0 {
		errs = append(errs, &FieldError{Field: "claims", Problem: fmt.Sprintf("only applies with access: authenticated, not %s", r.Access)})
	}
	return errors.Join(errs...)
}

func (a Access) valid() bool { return a == Anonymous || a == Authenticated || a == Deny }

// compileRule checks r, but for its patterns, and parses its claims.
func compileRule(i int, r Rule) (*rule, error) {
	switch {
	case len(r.Methods) == 0:
		return nil, errors.New("no method pattern")
	case r.Access == "":
		return nil, errors.New("no access: want anonymous, authenticated or deny")
	case !r.Access.valid():
		return nil, fmt.Errorf("access %q: want anonymous, authenticated or deny", r.Access)
	}
	if err := r.Validate(); err != nil {
		return nil, err
	}
	cr := &rule{index: i, access: r.Access, providers: r.Providers, scopes: r.Scopes}
	for _, c := range r.Claims {
		cc, err := ParseClaimCheck(c)
		if err != nil {
			return nil, err
		}
		cr.claims = append(cr.claims, cc)
	}
	return cr, nil
}

// match returns the entry deciding method, or nil for the default.
func (p *Policy) match(method string) *entry {
	e, _ := p.table.Lookup(method)
	return e
}

// Accepts implements authn.MethodPolicy: the providers the deciding rule
// names (nil for all) and whether the method may be called without
// credentials, which is so unless the rule requires authentication (a
// denied method needs no credentials to be refused).
func (p *Policy) Accepts(fullMethod string) ([]string, bool) {
	e := p.match(fullMethod)
	if e == nil {
		return nil, p.def != Authenticated
	}
	return e.rule.providers, e.rule.access != Authenticated
}

// Decide returns nil when the call in ctx (carrying its identity, if any)
// may call fullMethod, and the refusal status otherwise.
func (p *Policy) Decide(ctx context.Context, fullMethod string) error {
	access, r := p.def, (*rule)(nil)
	if e := p.match(fullMethod); e != nil {
		access, r = e.rule.access, e.rule
	}
	switch access {
	case Anonymous:
		return nil
	case Authenticated:
	default:
		return status.Errorf(codes.PermissionDenied, "method %s is not open to any caller", fullMethod)
	}
	id, ok := identity.FromContext(ctx)
	if !ok {
		return status.Errorf(codes.Unauthenticated, "method %s requires an authenticated caller", fullMethod)
	}
	if r == nil {
		return nil
	}
	if len(r.providers) > 0 && !slices.Contains(r.providers, id.Provider) {
		return status.Errorf(codes.Unauthenticated, "method %s does not accept %s credentials", fullMethod, id.Provider)
	}
	for _, s := range r.scopes {
		if !id.HasScope(s) {
			return status.Errorf(codes.PermissionDenied, "method %s requires scope %q", fullMethod, s)
		}
	}
	for _, c := range r.claims {
		if !holds(id, c) {
			return status.Errorf(codes.PermissionDenied, "caller does not meet the claim conditions of method %s", fullMethod)
		}
	}
	return nil
}

// StreamServerInterceptor returns the interceptor. It belongs right after
// authentication.
func (p *Policy) StreamServerInterceptor() grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		if err := p.Decide(ss.Context(), info.FullMethod); err != nil {
			return err
		}
		return handler(srv, ss)
	}
}

// holds evaluates one claim condition; a missing claim fails it.
func holds(id *identity.Identity, c ClaimCheck) bool {
	v, ok := id.Claim(c.Claim)
	if !ok || v == nil {
		return false
	}
	switch c.Op {
	case "==":
		s, ok := scalar(v)
		return ok && s == c.Value
	case "!=":
		s, ok := scalar(v)
		return ok && s != c.Value
	case "contains":
		switch v := v.(type) {
		case string:
			return slices.Contains(strings.Fields(v), c.Value)
		case []any:
			for _, e := range v {
				if s, ok := scalar(e); ok && s == c.Value {
					return true
				}
			}
		case []string:
			return slices.Contains(v, c.Value)
		}
	}
	return false
}

// scalar renders a JSON scalar as text: strings as they are, booleans as
// true/false, numbers in their shortest form.
func scalar(v any) (string, bool) {
	switch v := v.(type) {
	case string:
		return v, true
	case bool:
		return strconv.FormatBool(v), true
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64), true
	case json.Number:
		return v.String(), true
	case int:
		return strconv.Itoa(v), true
	case int64:
		return strconv.FormatInt(v, 10), true
	}
	return "", false
}

// Lint returns warnings about rules that decide nothing, given the methods
// the gateway knows ("/pkg.Service/Method", as registry snapshots list
// them): a
// pattern that matches no method is unreachable (often a typo), and a
// pattern whose every method is decided by a more specific pattern is
// shadowed. Each warning starts with the key path under the authz
// section, like "rules[2].methods[0]: ...". It also notes methods that fall
// to a deny default, so that "sluice validate" shows what is closed.
func (p *Policy) Lint(methods []string) []string {
	var warns []string
	for _, e := range p.entries {
		var matched int
		decides := false // some method is decided by e itself
		winners := map[string]bool{}
		for _, m := range methods {
			if !e.compiled.Matches(m) {
				continue
			}
			matched++
			if w := p.match(m); w == e {
				decides = true
			} else if w != nil {
				winners[w.pattern] = true
			}
		}
		where := fmt.Sprintf("rules[%d].methods[%d]", e.rule.index, e.patIndex)
		switch {
		case matched == 0:
			warns = append(warns, fmt.Sprintf("%s: pattern %q matches no known method; it is unreachable", where, e.pattern))
		case !decides:
			ws := make([]string, 0, len(winners))
			for w := range winners {
				ws = append(ws, strconv.Quote(w))
			}
			sort.Strings(ws)
			warns = append(warns, fmt.Sprintf("%s: pattern %q is shadowed: every method it matches is decided by the more specific %s", where, e.pattern, strings.Join(ws, ", ")))
		}
	}
	if p.def == Deny {
		var fallen []string
		for _, m := range methods {
			if p.match(m) == nil {
				fallen = append(fallen, methodpattern.FullName(m))
			}
		}
		if len(fallen) > 0 {
			const show = 5
			list := strings.Join(fallen[:min(show, len(fallen))], ", ")
			if len(fallen) > show {
				list += fmt.Sprintf(" and %d more", len(fallen)-show)
			}
			warns = append(warns, fmt.Sprintf("default: %d method(s) match no rule and are denied: %s", len(fallen), list))
		}
	}
	return warns
}
