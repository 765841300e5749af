package httprule

import (
	"fmt"
	"slices"
	"strings"
)

// Route binds an HTTP method and a path template to caller data.
type Route struct {
	// Method is the HTTP method ("GET", "POST", ...) or the kind of a
	// custom pattern, compared exactly (case-sensitive).
	Method string
	// Template is the parsed path template; required.
	Template *Template
	// Value is caller data returned with a match, e.g. the gRPC method and
	// the HttpRule the route came from. The router never looks at it.
	Value any
	// Source names where the route was declared (e.g. "library.v1.Library.GetBook
	// in library.proto"); used in conflict errors.
	Source string
}

// ConflictError reports that two routes have the same method and templates
// that match exactly the same paths (equal Template.Shape, verb included).
type ConflictError struct {
	// Existing is the route added first, Added the one rejected.
	Existing, Added *Route
}

// Error names both routes and their sources.
func (e *ConflictError) Error() string {
	return fmt.Sprintf("route %s %s from %q conflicts with %s %s from %q: both match the same paths",
		e.Added.Method, e.Added.Template, e.Added.Source,
		e.Existing.Method, e.Existing.Template, e.Existing.Source)
}

// Option configures a Builder.
type Option interface{ apply(*config) }

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

type config struct {
	fullyDecodeReserved bool
}

// WithFullyDecodeReservedExpansion mirrors google.api.Http's
// fully_decode_reserved_expansion: multi-segment variables are fully
// decoded except "%2F" (and "%2f"), instead of keeping every RFC 6570
// reserved character percent-encoded.
func WithFullyDecodeReservedExpansion() Option {
	return optionFunc(func(c *config) { c.fullyDecodeReserved = true })
}

// Builder collects routes, rejecting conflicts as they are added, and builds
// a Router. A Builder is not safe for concurrent use.
type Builder struct {
	cfg    config
	routes []*Route
	byKey  map[routeKey]*Route
}

type routeKey struct{ method, shape string }

// NewBuilder returns an empty Builder.
func NewBuilder(opts ...Option) *Builder {
	b := &Builder{byKey: make(map[routeKey]*Route)}
	for _, o := range opts {
		o.apply(&b.cfg)
	}
	return b
}

// Add adds a copy of r. It returns a *ConflictError, naming both sources,
// when a route with the same method and an equivalent template (same
// Template.Shape, so same verb) was added before; r is then not added.
func (b *Builder) Add(r Route) error {
	if r.Template == nil {
		return fmt.Errorf("add route %s from %q: nil template", r.Method, r.Source)
	}
	if !isToken(r.Method) {
		return fmt.Errorf("add route %q %s from %q: method must be a non-empty HTTP token", r.Method, r.Template, r.Source)
	}
	k := routeKey{r.Method, r.Template.Shape()}
	if prev, ok := b.byKey[k]; ok {
		return &ConflictError{Existing: prev, Added: &r}
	}
	b.byKey[k] = &r
	b.routes = append(b.routes, &r)
	return nil
}

// isToken reports whether s is an RFC 9110 token, the syntax of a method.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !isIdentChar(c) && !strings.ContainsRune("!#$%&'*+-.^`|~", rune(c)) {
			return false
		}
	}
	return true
}

// Build returns a Router over the routes added so far. The Builder may keep
// being used; later additions do not affect routers already built.
func (b *Builder) Build() *Router {
	r := &Router{root: &node{}, multi: keepReserved}
	if b.cfg.fullyDecodeReserved {
		r.multi = keepSlashOnly
	}
	for _, rt := range b.routes {
		r.insert(rt)
	}
	return r
}

// Router matches requests against routes. It is immutable and safe for
// concurrent use. The zero value has no routes.
//
// A request path (the escaped form, as from url.URL.EscapedPath, without the
// query) is split on "/". Then, left to right, a literal segment is
// preferred to "*", and "*" to "**", backtracking only when the preferred
// branch leads to no route for the method; the first route found wins. So
// the most specific template wins, deterministically and independently of
// the order routes were added. The last segment's text after its last ':' is
// tried as a custom verb first, then, if nothing matches, as part of the
// segment: "/v1/shelves/a:b" matches "/v1/{name=shelves/*}" with name "a:b"
// unless some route has the verb "b" at that place.
//
// Empty segments never match: "/v1/shelves/" and "/v1//shelves" do not
// match "/v1/shelves" nor any wildcard. Matching costs time proportional to
// the number of path segments (times the few wildcard branches tried), not
// to the number of routes.
type Router struct {
	root  *node
	multi decodeMode // how multi-segment variables are decoded
}

// node is a trie node at a given segment depth.
type node struct {
	lits map[string]*node // child per canonical literal
	star *node            // child for "*"
	ends []*leaf          // templates that end at this node
	rest []*leaf          // templates whose "**" starts at this node
}

type leaf struct {
	verb   string
	method string
	route  *Route
	vars   []varSpec
}

type varSpec struct {
	path       []string
	start, end int
	deep       bool // ends with "**": runs to the end of the path
	multi      bool // multi-segment decoding rules
}

func (r *Router) insert(rt *Route) {
	t := rt.Template
	l := &leaf{verb: t.verb, method: rt.Method, route: rt}
	for _, v := range t.variables {
		deep := t.segments[v.End-1].Kind == DeepWildcard
		l.vars = append(l.vars, varSpec{
			path:  v.FieldPath,
			start: v.Start,
			end:   v.End,
			deep:  deep,
			multi: deep || v.End-v.Start != 1,
		})
	}
	n := r.root
	for _, s := range t.segments {
		switch s.Kind {
		case Literal:
			if n.lits == nil {
				n.lits = make(map[string]*node)
			}
			c := n.lits[s.Literal]
			if c == nil {
				c = &node{}
				n.lits[s.Literal] = c
			}
			n = c
		case Wildcard:
			if n.star == nil {
				n.star = &node{}
			}
			n = n.star
		case DeepWildcard:
			n.rest = append(n.rest, l)
			return
		}
	}
	n.ends = append(n.ends, l)
}

// MatchResult is the outcome of Router.Match.
type MatchResult int

const (
	// NotFound means no route matches the path (HTTP 404).
	NotFound MatchResult = iota
	// Found means a route matches the path and method.
	Found
	// MethodNotAllowed means routes match the path, but none has the
	// method (HTTP 405); Match.Allow lists their methods.
	MethodNotAllowed
	// MalformedPath means the path has an invalid percent-encoding such as
	// "%zz" (HTTP 400). Nothing was matched.
	MalformedPath
)

// String returns the result's name.
func (m MatchResult) String() string {
	switch m {
	case NotFound:
		return "NotFound"
	case Found:
		return "Found"
	case MethodNotAllowed:
		return "MethodNotAllowed"
	case MalformedPath:
		return "MalformedPath"
	}
	return fmt.Sprintf("MatchResult(%d)", int(m))
}

// Match is what Router.Match found.
type Match struct {
	// Route is the matched route (Found only). It must not be modified.
	Route *Route
	// Vars holds the template's variables, in template order, with their
	// decoded values (Found only).
	Vars []Var
	// Allow lists, sorted, the methods the path can be requested with
	// (MethodNotAllowed only), for the Allow header.
	Allow []string
}

// Var is the value a path variable bound.
type Var struct {
	// FieldPath is the variable's field path, e.g. ["book", "name"]. It is
	// shared with the template and must not be modified.
	FieldPath []string
	// Value is the matched text, decoded: a single-segment variable is fully
	// percent-decoded (so "%2F" becomes a '/' inside the value); a
	// multi-segment one keeps reserved characters such as "%2F" encoded (see
	// WithFullyDecodeReservedExpansion) so they are not confused with the
	// separators.
	Value string
}

// matcher is the per-request state of a match. It lives on the stack.
type matcher struct {
	path   string
	starts []int // starts[i] is where segment i begins; starts[n] is one past its end + 1
	n      int
	verb   string
	method string
	pct    bool // path has escapes
}

func (m *matcher) seg(i int) string { return m.path[m.starts[i] : m.starts[i+1]-1] }

// Match finds the route for an HTTP method and escaped request path. See
// Router for the matching rules. Only Found carries a Route and Vars, only
// MethodNotAllowed carries Allow.
func (r *Router) Match(method, path string) (Match, MatchResult) {
	if r == nil || r.root == nil || path == "" || path[0] != '/' {
		return Match{}, NotFound
	}
	pct := strings.IndexByte(path, '%') >= 0
	if pct && !validEscapes(path) {
		return Match{}, MalformedPath
	}
	var buf [16]int
	starts, ok := split(path, buf[:0])
	if !ok {
		return Match{}, NotFound
	}
	m := matcher{path: path, starts: starts, n: len(starts) - 1, method: method, pct: pct}

	// With a verb first, then without. With the verb, the last segment
	// ends (starts[m.n]) just past its ':'.
	lastEnd := starts[m.n]
	verb, verbEnd := "", 0
	if m.n > 0 {
		last := m.seg(m.n - 1)
		if c := strings.LastIndexByte(last, ':'); c > 0 && c < len(last)-1 {
			verb, verbEnd = canonical(last[c+1:]), starts[m.n-1]+c+1
		}
	}
	if verb != "" {
		m.verb, starts[m.n] = verb, verbEnd
		if l := m.find(r.root, 0); l != nil {
			return result(l, path, starts, pct, r.multi), Found
		}
		m.verb, starts[m.n] = "", lastEnd
	}
	if l := m.find(r.root, 0); l != nil {
		return result(l, path, starts, pct, r.multi), Found
	}

	var allow []string
	m.collect(r.root, 0, &allow)
	if verb != "" {
		m.verb, starts[m.n] = verb, verbEnd
		m.collect(r.root, 0, &allow)
	}
	if len(allow) == 0 {
		return Match{}, NotFound
	}
	slices.Sort(allow)
	return Match{Allow: slices.Compact(allow)}, MethodNotAllowed
}

// split appends to starts the offset of each segment of path (which starts
// with '/') and a final sentinel one past the end + 1, so segment i is
// path[starts[i]:starts[i+1]-1]. It reports false if a segment is empty.
func split(path string, starts []int) ([]int, bool) {
	if path == "/" {
		return append(starts, len(path)+1), true
	}
	i := 1
	for {
		starts = append(starts, i)
		j := strings.IndexByte(path[i:], '/')
		if j == 0 || i == len(path) {
			return nil, false
		}
		if j < 0 {
			return append(starts, len(path)+1), true
		}
		i += j + 1
	}
}

// find returns the leaf for m.method and m.verb reached from n by segments
// [i, m.n), trying literal, then "*", then "**" at each step.
func (m *matcher) find(n *node, i int) *leaf {
	if i == m.n {
		if l := pick(n.ends, m.verb, m.method); l != nil {
			return l
		}
	} else {
		seg := m.seg(i)
		if n.lits != nil {
			var c *node
			if !m.pct || strings.IndexByte(seg, '%') < 0 {
				c = n.lits[seg]
			} else {
				var buf [64]byte
				c = n.lits[string(appendCanonical(buf[:0], seg))]
			}
			if c != nil {
				if l := m.find(c, i+1); l != nil {
					return l
				}
			}
		}
		if n.star != nil {
			if l := m.find(n.star, i+1); l != nil {
				return l
			}
		}
	}
	return pick(n.rest, m.verb, m.method)
}

func pick(ls []*leaf, verb, method string) *leaf {
	for _, l := range ls {
		if l.method == method && l.verb == verb {
			return l
		}
	}
	return nil
}

// collect appends the methods of every route matching segments [i, m.n)
// from n with m.verb, whatever their method.
func (m *matcher) collect(n *node, i int, allow *[]string) {
	if i == m.n {
		collectLeaves(n.ends, m.verb, allow)
	} else {
		if c := n.lits[canonical(m.seg(i))]; c != nil {
			m.collect(c, i+1, allow)
		}
		if n.star != nil {
			m.collect(n.star, i+1, allow)
		}
	}
	collectLeaves(n.rest, m.verb, allow)
}

func collectLeaves(ls []*leaf, verb string, allow *[]string) {
	for _, l := range ls {
		if l.verb == verb {
			*allow = append(*allow, l.method)
		}
	}
}

// result decodes the variables of l from the matched path, whose segment i
// is path[starts[i]:starts[i+1]-1]. It is a function rather than a matcher
// method so that escape analysis sees that only path, not starts, reaches
// the heap: starts lives in the caller's stack buffer.
func result(l *leaf, path string, starts []int, pct bool, multi decodeMode) Match {
	res := Match{Route: l.route}
	if len(l.vars) == 0 {
		return res
	}
	res.Vars = make([]Var, len(l.vars))
	for k, v := range l.vars {
		end := v.end
		if v.deep {
			end = len(starts) - 1
		}
		raw := ""
		if v.start < end {
			raw = path[starts[v.start] : starts[end]-1]
		}
		if pct {
			mode := decodeAll
			if v.multi {
				mode = multi
			}
			raw = decode(raw, mode)
		}
		res.Vars[k] = Var{FieldPath: v.path, Value: raw}
	}
	return res
}
