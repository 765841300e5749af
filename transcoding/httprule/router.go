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
// The route added later wins, as in grpc-gateway, whose ServeMux tries the
// handler registered last first: Winner is served, Shadowed never matches.
type ConflictError struct {
	// Shadowed is the route added earlier, which no request reaches;
	// Winner the one added later, which replaced it.
	Shadowed, Winner *Route
}

// Error names both routes and their sources, the winner first.
func (e *ConflictError) Error() string {
	return fmt.Sprintf("route %s %s from %q shadows %s %s from %q: both match the same paths, the later one wins",
		e.Winner.Method, e.Winner.Template, e.Winner.Source,
		e.Shadowed.Method, e.Shadowed.Template, e.Shadowed.Source)
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

// Builder collects routes, resolving conflicts as they are added (the later
// route wins), and builds a Router. A Builder is not safe for concurrent use.
type Builder struct {
	cfg    config
	routes []*Route
	byKey  map[routeKey]int // index in routes
}

type routeKey struct{ method, shape string }

// NewBuilder returns an empty Builder.
func NewBuilder(opts ...Option) *Builder {
	b := &Builder{byKey: make(map[routeKey]int)}
	for _, o := range opts {
		o.apply(&b.cfg)
	}
	return b
}

// Add adds a copy of r. When a route with the same method and an
// equivalent template (same Template.Shape, so same verb) was added before,
// r replaces it and Add returns a *ConflictError naming both: the later
// route wins, deterministically. Any other error means r was not added.
func (b *Builder) Add(r Route) error {
	if r.Template == nil {
		return fmt.Errorf("add route %s from %q: nil template", r.Method, r.Source)
	}
	if !isToken(r.Method) {
		return fmt.Errorf("add route %q %s from %q: method must be a non-empty HTTP token", r.Method, r.Template, r.Source)
	}
	k := routeKey{r.Method, r.Template.Shape()}
	if i, ok := b.byKey[k]; ok {
		prev := b.routes[i]
		b.routes[i] = &r
		return &ConflictError{Shadowed: prev, Winner: &r}
	}
	b.byKey[k] = len(b.routes)
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
	r.root.finish()
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
// the order routes were added.
//
// A "**" matches all the request's segments but the ones the rest of its
// template needs: a template has one "**" at most, and what follows it has a
// fixed number of segments k, so "**" takes everything up to the last k
// segments, which must then match the rest of the template. There is no
// choice to make, hence no backtracking inside "**". When several "**"
// templates start at the same place, the one with more segments after its
// "**" is tried first, then the one with a literal where the other has "*",
// left to right.
//
// Custom verbs: the text after a ':' in the last segment is tried as a verb
// when some route has that verb, the longest such text first (the first
// ':'), then, if nothing matches, the whole segment is tried as a plain
// segment. So "/v1/shelves/a:b" matches "/v1/{name=shelves/*}" with name
// "a:b" unless some route has the verb "b" at that place, and
// "/v1/x/1:custom:custom" matches "/v1/x/{id}:custom:custom" with id "1".
//
// Empty segments never match: "/v1/shelves/" and "/v1//shelves" do not
// match "/v1/shelves" nor any wildcard. Matching costs time proportional to
// the number of path segments (times the few wildcard branches tried, and
// the colons of the last segment), not to the number of routes.
type Router struct {
	root  *node
	multi decodeMode          // how multi-segment variables are decoded
	verbs map[string]struct{} // every route's verb, canonical
}

// node is a trie node at a given segment depth. Literal children are kept
// in a sorted slice while there are few of them, which costs far less memory
// than a map per node, and move to a map when there are many.
type node struct {
	edges []edge           // sorted by literal; nil once byLit is used
	byLit map[string]*node // literal children when there are many
	// lens and firsts have bit k set when some literal child has length
	// k%64, or first byte k%64: most request segments are resource IDs
	// that name no literal, and these two tests turn most of them away
	// before a search or a hash.
	lens, firsts uint64
	star         *node   // child for "*"
	ends         []*leaf // templates that end at this node
	rest         []*leaf // templates whose "**" starts at this node
}

type edge struct {
	lit   string
	child *node
}

// maxEdges is the number of literal children kept in a slice; past it a
// node uses a map. Binary search over a few strings is as fast as hashing.
const maxEdges = 16

// child returns the child for the canonical literal lit, or nil.
func (n *node) child(lit string) *node {
	if n.byLit != nil {
		return n.byLit[lit]
	}
	if len(n.edges) <= linearEdges {
		for i := range n.edges {
			if n.edges[i].lit == lit {
				return n.edges[i].child
			}
		}
		return nil
	}
	i := searchEdges(n.edges, lit)
	if i < len(n.edges) && n.edges[i].lit == lit {
		return n.edges[i].child
	}
	return nil
}

// searchEdges returns the index of the first edge whose literal is not
// less than lit. It compares with operators rather than strings.Compare or
// a closure, through which the request path would escape to the heap, and
// with it the matcher's stack buffer.
func searchEdges(edges []edge, lit string) int {
	lo, hi := 0, len(edges)
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if edges[mid].lit < lit {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo
}

// linearEdges is the number of literal children searched one by one:
// comparing a few strings for equality beats a binary search.
const linearEdges = 8

// addChild returns the child for lit, creating it.
func (n *node) addChild(lit string) *node {
	if c := n.child(lit); c != nil {
		return c
	}
	c := &node{}
	n.lens |= 1 << (len(lit) % 64)
	n.firsts |= 1 << (lit[0] % 64)
	if n.byLit != nil {
		n.byLit[lit] = c
		return c
	}
	n.edges = slices.Insert(n.edges, searchEdges(n.edges, lit), edge{lit, c})
	if len(n.edges) > maxEdges {
		n.byLit = make(map[string]*node, len(n.edges))
		for _, e := range n.edges {
			n.byLit[e.lit] = e.child
		}
		n.edges = nil
	}
	return c
}

// finish orders each node's "**" leaves by precedence and trims the
// slices built by appending, once every route is in.
func (n *node) finish() {
	slices.SortStableFunc(n.rest, func(a, b *leaf) int { return compareTails(a.tail, b.tail) })
	slices.SortFunc(n.ends, compareLeaves)
	n.edges = slices.Clip(n.edges)
	n.ends = slices.Clip(n.ends)
	n.rest = slices.Clip(n.rest)
	for _, e := range n.edges {
		e.child.finish()
	}
	for _, c := range n.byLit {
		c.finish()
	}
	if n.star != nil {
		n.star.finish()
	}
}

// compareTails orders the segments after two "**": the more specific first
// (more segments, then a literal before "*", left to right).
func compareTails(a, b []Segment) int {
	if len(a) != len(b) {
		return len(b) - len(a)
	}
	for i := range a {
		if a[i].Kind != b[i].Kind {
			return int(a[i].Kind) - int(b[i].Kind) // Literal < Wildcard
		}
	}
	return 0
}

type leaf struct {
	verb   string
	method string
	route  *Route
	vars   []varSpec
	tail   []Segment // the segments after "**", for a leaf in node.rest
	nsegs  int       // the template's number of segments
	deep   int       // index of the template's "**", or -1
}

// pos maps a boundary j between the template's segments to the boundary
// between the n path segments it matched: the same before "**", counted
// from the end of the path after it.
func (l *leaf) pos(j, n int) int {
	if l.deep < 0 || j <= l.deep {
		return j
	}
	return n - (l.nsegs - j)
}

type varSpec struct {
	path       []string
	start, end int  // template segment boundaries, half-open
	multi      bool // multi-segment decoding rules
}

func (r *Router) insert(rt *Route) {
	t := rt.Template
	l := &leaf{verb: t.verb, method: rt.Method, route: rt, nsegs: len(t.segments), deep: t.deep}
	if len(t.variables) > 0 {
		l.vars = make([]varSpec, 0, len(t.variables))
	}
	for _, v := range t.variables {
		l.vars = append(l.vars, varSpec{
			path:  v.FieldPath,
			start: v.Start,
			end:   v.End,
			multi: v.End-v.Start != 1 || t.segments[v.Start].Kind == DeepWildcard,
		})
	}
	if t.verb != "" {
		if r.verbs == nil {
			r.verbs = make(map[string]struct{})
		}
		r.verbs[t.verb] = struct{}{}
	}
	n := r.root
	for k, s := range t.segments {
		switch s.Kind {
		case Literal:
			n = n.addChild(s.Literal)
		case Wildcard:
			if n.star == nil {
				n.star = &node{}
			}
			n = n.star
		case DeepWildcard:
			if k+1 < len(t.segments) {
				l.tail = t.segments[k+1:]
			}
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

// lookup returns n's child for segment i, comparing in canonical form.
func (m *matcher) lookup(n *node, i int) *node {
	if n.edges == nil && n.byLit == nil {
		return nil
	}
	seg := m.seg(i)
	if !m.pct || strings.IndexByte(seg, '%') < 0 {
		if n.lens&(1<<(len(seg)%64)) == 0 || n.firsts&(1<<(seg[0]%64)) == 0 {
			return nil
		}
		return n.child(seg)
	}
	var buf [64]byte
	return n.child(string(appendCanonical(buf[:0], seg)))
}

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

	// With each verb some route has, longest first, then without. With a
	// verb, the last segment ends (starts[m.n]) just past its ':'. No
	// closures here: they would make m, and starts, escape to the heap.
	lastEnd := starts[m.n]
	last := ""
	if m.n > 0 {
		last = path[starts[m.n-1]:]
	}
	for c, verb := r.nextVerb(last, pct, 0); c >= 0; c, verb = r.nextVerb(last, pct, c+1) {
		m.verb, starts[m.n] = verb, starts[m.n-1]+c+1
		if l := m.find(r.root, 0); l != nil {
			return result(l, path, starts, pct, r.multi), Found
		}
	}
	m.verb, starts[m.n] = "", lastEnd
	if l := m.find(r.root, 0); l != nil {
		return result(l, path, starts, pct, r.multi), Found
	}

	var allow []string
	m.collect(r.root, 0, &allow)
	for c, verb := r.nextVerb(last, pct, 0); c >= 0; c, verb = r.nextVerb(last, pct, c+1) {
		m.verb, starts[m.n] = verb, starts[m.n-1]+c+1
		m.collect(r.root, 0, &allow)
	}
	m.verb, starts[m.n] = "", lastEnd
	if len(allow) == 0 {
		return Match{}, NotFound
	}
	slices.Sort(allow)
	return Match{Allow: slices.Compact(allow)}, MethodNotAllowed
}

// nextVerb returns the offset, from from on, of the first ':' in last (the
// path's last segment, verb included) whose following text is a verb some
// route has, and that verb in canonical form; -1 when there is none.
// Walking the colons left to right tries the longest verbs first. It takes
// plain values, not the matcher, so that the matcher stays on the stack.
func (r *Router) nextVerb(last string, pct bool, from int) (int, string) {
	if len(r.verbs) == 0 {
		return -1, ""
	}
	for c := from; c < len(last); c++ {
		j := strings.IndexByte(last[c:], ':')
		if j < 0 {
			return -1, ""
		}
		c += j
		if c == 0 || c == len(last)-1 {
			continue
		}
		verb := last[c+1:]
		if pct && strings.IndexByte(verb, '%') >= 0 {
			verb = canonical(verb)
		}
		if _, ok := r.verbs[verb]; ok {
			return c, verb
		}
	}
	return -1, ""
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
		if c := m.lookup(n, i); c != nil {
			if l := m.find(c, i+1); l != nil {
				return l
			}
		}
		if n.star != nil {
			if l := m.find(n.star, i+1); l != nil {
				return l
			}
		}
	}
	for _, l := range n.rest {
		if l.method == m.method && l.verb == m.verb && m.tailMatches(l.tail, i) {
			return l
		}
	}
	return nil
}

// tailMatches reports whether the segments after a "**" that starts at
// segment i match the end of the path: "**" takes all but the last
// len(tail) segments.
func (m *matcher) tailMatches(tail []Segment, i int) bool {
	k := m.n - len(tail)
	if k < i {
		return false
	}
	for j, s := range tail {
		if s.Kind != Literal {
			continue
		}
		seg := m.seg(k + j)
		if m.pct && strings.IndexByte(seg, '%') >= 0 {
			var buf [64]byte
			if string(appendCanonical(buf[:0], seg)) != s.Literal {
				return false
			}
		} else if seg != s.Literal {
			return false
		}
	}
	return true
}

// pick returns the leaf of ends, sorted by compareLeaves, with verb and
// method. Nodes shared by many APIs ("/v1/projects/*/locations/*") hold
// dozens of leaves, one per verb and method, hence the binary search.
func pick(ends []*leaf, verb, method string) *leaf {
	if len(ends) <= linearEdges {
		for _, l := range ends {
			if l.method == method && l.verb == verb {
				return l
			}
		}
		return nil
	}
	// A binary search by hand: see searchEdges.
	lo, hi := 0, len(ends)
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if compareKey(ends[mid], verb, method) < 0 {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	if lo < len(ends) && ends[lo].verb == verb && ends[lo].method == method {
		return ends[lo]
	}
	return nil
}

// compareLeaves orders the leaves that end at one node by verb, then
// method; no two have both equal.
func compareLeaves(a, b *leaf) int { return compareKey(a, b.verb, b.method) }

// compareKey compares with operators: see searchEdges.
func compareKey(l *leaf, verb, method string) int {
	switch {
	case l.verb < verb:
		return -1
	case l.verb > verb:
		return 1
	case l.method < method:
		return -1
	case l.method > method:
		return 1
	}
	return 0
}

// collect appends the methods of every route matching segments [i, m.n)
// from n with m.verb, whatever their method.
func (m *matcher) collect(n *node, i int, allow *[]string) {
	if i == m.n {
		for _, l := range n.ends {
			if l.verb == m.verb {
				*allow = append(*allow, l.method)
			}
		}
	} else {
		if c := m.lookup(n, i); c != nil {
			m.collect(c, i+1, allow)
		}
		if n.star != nil {
			m.collect(n.star, i+1, allow)
		}
	}
	for _, l := range n.rest {
		if l.verb == m.verb && m.tailMatches(l.tail, i) {
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
	n := len(starts) - 1
	res.Vars = make([]Var, len(l.vars))
	for k, v := range l.vars {
		start, end := l.pos(v.start, n), l.pos(v.end, n)
		raw := ""
		if start < end {
			raw = path[starts[start] : starts[end]-1]
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
