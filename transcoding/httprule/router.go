package httprule

import (
	"cmp"
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
	r := &Router{multi: keepReserved}
	if b.cfg.fullyDecodeReserved {
		r.multi = keepSlashOnly
	}
	t := trieBuilder{nodes: make([]buildNode, 1), edges: make(map[edgeKey]uint32)}
	for _, rt := range b.routes {
		r.insert(rt, &t)
	}
	r.lits, r.verbs = t.lits.build(), t.verbs.build()
	t.build(r)
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
//
// How the trie is laid out, for speed with large tables (Google's APIs,
// 15,000 routes): a request's segments are first looked up, each on its
// own, in a table of every literal the routes have, which gives each a
// small integer id (0 for a segment that is no literal, such as most
// resource IDs). Those lookups do not depend on one another, so the
// processor overlaps their cache misses. The trie is then walked with
// integers: its nodes are one array, and a literal child is one probe in
// a table keyed by (node, literal id); the templates ending at a node are
// a few neighbours in one array, sorted by (verb, method). Each segment
// so costs one dependent memory access however many children a node has,
// where pointers to nodes, slices of children and string comparisons cost
// several.
type Router struct {
	nodes   []node     // nodes[0] is the root; nil for the zero Router
	edges   []edge     // literal children, open-addressed by (parent, literal id)
	eshift  uint8      // 64 - log2(len(edges))
	ends    []end      // templates ending at each node, grouped by node, sorted by key
	rest    []*leaf    // "**" templates starting at each node, grouped by node
	multi   decodeMode // how multi-segment variables are decoded
	lits    symbols    // every literal segment, canonical
	verbs   symbols    // every route's verb, canonical
	methods []string   // every route's method; method id i+1 is methods[i]
}

// node is a trie node at a given segment depth; its literal children are
// in Router.edges.
type node struct {
	next       uint32 // the "*" child (0 for none: the root is no child), | restBit
	ends, endN uint32 // Router.ends[ends:ends+endN] end here, sorted by key
	rest, resN uint32 // Router.rest[rest:rest+resN] have their "**" here, by precedence
}

// restBit is set in node.next when "**" templates start at the node.
const restBit = 1 << 31

// edge is a literal child; child 0 marks an empty slot. It carries the
// child's node.next, so that a walk through literals reads the edges
// alone, not the nodes they lead to: one cache miss per segment.
type edge struct{ parent, lit, child, next uint32 }

// end is a template that ends at a node, with its key.
type end struct {
	key  uint64
	leaf *leaf
}

// tableBits returns the number of bits of the index of an open-addressed
// table for n entries, at most half full.
func tableBits(n int) uint8 {
	bits := uint8(4)
	for 1<<bits < 2*n {
		bits++
	}
	return bits
}

// slot returns the index of the key (a, b) in a table of 64-shift bits:
// the high bits of a multiplicative hash.
func slot(a uint32, b uint64, shift uint8) uint64 {
	return ((uint64(a)*0x9E3779B97F4A7C15 ^ b) * 0xBF58476D1CE4E5B9) >> shift
}

// child returns the edge to the literal child lit of node parent, nil for
// none.
func (r *Router) child(parent, lit uint32) *edge {
	if len(r.edges) == 0 {
		return nil
	}
	mask := uint64(len(r.edges) - 1)
	for i := slot(parent, uint64(lit), r.eshift); ; i = (i + 1) & mask {
		e := &r.edges[i]
		if e.child == 0 {
			return nil
		}
		if e.parent == parent && e.lit == lit {
			return e
		}
	}
}

// trieBuilder builds a Router's trie: nodes are numbered as they are
// created, children found through a map until the tables are built.
type trieBuilder struct {
	nodes       []buildNode
	edges       map[edgeKey]uint32
	nends       int
	lits, verbs symbolBuilder
}

type edgeKey struct{ parent, lit uint32 }

type buildNode struct {
	star uint32
	ends []end
	rest []*leaf
}

// child returns the literal child lit of parent, creating it.
func (t *trieBuilder) child(parent, lit uint32) uint32 {
	k := edgeKey{parent, lit}
	if c, ok := t.edges[k]; ok {
		return c
	}
	c := uint32(len(t.nodes))
	t.nodes = append(t.nodes, buildNode{})
	t.edges[k] = c
	return c
}

// star returns the "*" child of parent, creating it.
func (t *trieBuilder) star(parent uint32) uint32 {
	if c := t.nodes[parent].star; c != 0 {
		return c
	}
	c := uint32(len(t.nodes))
	t.nodes = append(t.nodes, buildNode{})
	t.nodes[parent].star = c
	return c
}

// build lays the trie out in r: nodes, ends and "**" leaves in arrays, the
// edges in their table, each slice of its exact size.
func (t *trieBuilder) build(r *Router) {
	order, id := t.depthFirst()
	r.nodes = make([]node, len(t.nodes))
	r.ends = make([]end, 0, t.nends)
	nrest := 0
	for _, bn := range t.nodes {
		nrest += len(bn.rest)
	}
	if nrest > 0 {
		r.rest = make([]*leaf, 0, nrest)
	}
	for i, old := range order {
		bn := &t.nodes[old]
		slices.SortStableFunc(bn.rest, func(a, b *leaf) int { return compareTails(a.tail, b.tail) })
		slices.SortFunc(bn.ends, func(a, b end) int { return cmp.Compare(a.key, b.key) })
		r.nodes[i] = node{
			ends: uint32(len(r.ends)), endN: uint32(len(bn.ends)),
			rest: uint32(len(r.rest)), resN: uint32(len(bn.rest)),
		}
		if bn.star != 0 {
			r.nodes[i].next = id[bn.star]
		}
		if len(bn.rest) > 0 {
			r.nodes[i].next |= restBit
		}
		r.ends = append(r.ends, bn.ends...)
		r.rest = append(r.rest, bn.rest...)
	}
	if len(t.edges) > 0 {
		bits := tableBits(len(t.edges))
		r.edges, r.eshift = make([]edge, 1<<bits), 64-bits
		mask := uint64(len(r.edges) - 1)
		for k, c := range t.edges {
			e := edge{id[k.parent], k.lit, id[c], r.nodes[id[c]].next}
			i := slot(e.parent, uint64(e.lit), r.eshift)
			for r.edges[i].child != 0 {
				i = (i + 1) & mask
			}
			r.edges[i] = e
		}
	}
}

// depthFirst numbers the nodes in depth-first order, the root 0, each
// node's "*" child right after it: the nodes a request walks that no other
// request shares (the last few of its path) are then next to one another
// in memory, a cache line or two rather than one each. It returns the old
// number of each new one, and the new number of each old one.
func (t *trieBuilder) depthFirst() (order, id []uint32) {
	// The literal children of each node, as offsets into one array.
	first := make([]uint32, len(t.nodes)+1)
	for k := range t.edges {
		first[k.parent+1]++
	}
	for i := 1; i < len(first); i++ {
		first[i] += first[i-1]
	}
	kids := make([]uint32, len(t.edges))
	next := slices.Clone(first[:len(t.nodes)])
	for k, c := range t.edges {
		kids[next[k.parent]] = c
		next[k.parent]++
	}
	order = make([]uint32, 0, len(t.nodes))
	id = make([]uint32, len(t.nodes))
	stack := []uint32{0}
	for len(stack) > 0 {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		id[n] = uint32(len(order))
		order = append(order, n)
		lits := kids[first[n]:first[n+1]]
		slices.Sort(lits) // the map's order is random; the layout need not be
		for _, c := range slices.Backward(lits) {
			stack = append(stack, c)
		}
		if c := t.nodes[n].star; c != 0 {
			stack = append(stack, c)
		}
	}
	return order, id
}

// compareTails orders the segments after two "**" (literal ids, 0 for
// "*"): the more specific first (more segments, then a literal before "*",
// left to right).
func compareTails(a, b []uint32) int {
	if len(a) != len(b) {
		return len(b) - len(a)
	}
	for i := range a {
		if la, lb := a[i] != 0, b[i] != 0; la != lb {
			if la {
				return -1
			}
			return 1
		}
	}
	return 0
}

type leaf struct {
	route *Route
	vars  []varSpec
	tail  []uint32 // the segments after "**" (literal ids, 0 for "*"), for a "**" template
	key   uint64   // verb id << 32 | method id; verb id 0 for no verb
	nsegs int      // the template's number of segments
	deep  int      // index of the template's "**", or -1
}

// newLeaf returns a leaf with room for n variables. Up to 3, the variables
// are allocated with the leaf, next to it in memory: a match reads both,
// one cache miss rather than two on a large table, and the pair takes no
// more memory than apart (the allocator's size classes round both up).
func newLeaf(n int) *leaf {
	switch n {
	case 0:
		return &leaf{}
	case 1:
		x := &struct {
			leaf
			v [1]varSpec
		}{}
		x.vars = x.v[:0]
		return &x.leaf
	case 2:
		x := &struct {
			leaf
			v [2]varSpec
		}{}
		x.vars = x.v[:0]
		return &x.leaf
	case 3:
		x := &struct {
			leaf
			v [3]varSpec
		}{}
		x.vars = x.v[:0]
		return &x.leaf
	}
	return &leaf{vars: make([]varSpec, 0, n)}
}

// leafKey is the key of a leaf with the verb and method ids.
func leafKey(verb, method uint32) uint64 { return uint64(verb)<<32 | uint64(method) }

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
	start, end int32 // template segment boundaries, half-open
	multi      bool  // multi-segment decoding rules
}

// methodID returns the id of method, 0 when no route has it.
func (r *Router) methodID(method string) uint32 {
	for i, m := range r.methods {
		if m == method {
			return uint32(i + 1)
		}
	}
	return 0
}

func (r *Router) insert(rt *Route, t *trieBuilder) {
	tm := rt.Template
	mid := r.methodID(rt.Method)
	if mid == 0 {
		r.methods = append(r.methods, rt.Method)
		mid = uint32(len(r.methods))
	}
	var vid uint32
	if tm.verb != "" {
		vid = t.verbs.id(tm.verb)
	}
	l := newLeaf(len(tm.variables))
	l.route, l.key, l.nsegs, l.deep = rt, leafKey(vid, mid), len(tm.segments), tm.deep
	for _, v := range tm.variables {
		l.vars = append(l.vars, varSpec{
			path:  v.FieldPath,
			start: int32(v.Start),
			end:   int32(v.End),
			multi: v.End-v.Start != 1 || tm.segments[v.Start].Kind == DeepWildcard,
		})
	}
	n := uint32(0)
	for k, s := range tm.segments {
		switch s.Kind {
		case Literal:
			n = t.child(n, t.lits.id(s.Literal))
		case Wildcard:
			n = t.star(n)
		case DeepWildcard:
			if k+1 < len(tm.segments) {
				l.tail = make([]uint32, 0, len(tm.segments)-k-1)
				for _, s := range tm.segments[k+1:] {
					id := uint32(0)
					if s.Kind == Literal {
						id = t.lits.id(s.Literal)
					}
					l.tail = append(l.tail, id)
				}
			}
			t.nodes[n].rest = append(t.nodes[n].rest, l)
			return
		}
	}
	t.nodes[n].ends = append(t.nodes[n].ends, end{l.key, l})
	t.nends++
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
	// decoded values (Found only; nil when the template has none).
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
	r      *Router
	path   string
	starts []int    // starts[i] is where segment i begins; starts[n] is one past its end + 1
	ids    []uint32 // ids[i] is segment i's literal id, 0 when it is no literal
	n      int
	key    uint64 // leafKey of the verb and method searched
	verb   uint32 // the verb id searched
	pct    bool   // path has escapes
}

func (m *matcher) seg(i int) string { return m.path[m.starts[i] : m.starts[i+1]-1] }

// literal returns the literal id of segment i, comparing in canonical
// form.
func (m *matcher) literal(i int) uint32 {
	seg := m.seg(i)
	if m.pct && strings.IndexByte(seg, '%') >= 0 {
		var buf [64]byte
		return m.r.lits.find(string(appendCanonical(buf[:0], seg)))
	}
	return m.r.lits.find(seg)
}

// setVerb makes the matcher search with the verb id verb, which starts c
// bytes into the last segment (c < 0: no verb, the last segment ends at
// lastEnd), and the method id method.
func (m *matcher) setVerb(verb uint32, c, lastEnd int, method uint32) {
	m.verb, m.key = verb, leafKey(verb, method)
	if m.n == 0 {
		return
	}
	if c >= 0 {
		m.starts[m.n] = m.starts[m.n-1] + c + 1
	} else {
		m.starts[m.n] = lastEnd
	}
	m.ids[m.n-1] = m.literal(m.n - 1)
}

// Match finds the route for an HTTP method and escaped request path. See
// Router for the matching rules. Only Found carries a Route and Vars, only
// MethodNotAllowed carries Allow. It is MatchInto without a buffer.
func (r *Router) Match(method, path string) (Match, MatchResult) {
	return r.MatchInto(method, path, nil)
}

// MatchInto is Match with the variables appended to vars[:0]: given a
// buffer with room for the template's variables (on the caller's stack,
// or in a struct it allocates anyway), a match allocates nothing unless a
// variable's value needs percent-decoding or the path has more than 16
// segments.
func (r *Router) MatchInto(method, path string, vars []Var) (Match, MatchResult) {
	if r == nil || len(r.nodes) == 0 || path == "" || path[0] != '/' {
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
	var idBuf [16]uint32
	m := matcher{r: r, path: path, starts: starts, ids: idBuf[:0], n: len(starts) - 1, pct: pct}
	// Every segment but the last, whose end depends on the verb, is
	// looked up now: independent lookups whose cache misses overlap.
	for i := range m.n - 1 {
		m.ids = append(m.ids, m.literal(i))
	}
	if m.n > 0 {
		m.ids = append(m.ids, 0)
	}

	// With each verb some route has, longest first, then without. With a
	// verb, the last segment ends (starts[m.n]) just past its ':'. No
	// closures here: they would make m, and starts, escape to the heap.
	lastEnd := starts[m.n]
	last := ""
	if m.n > 0 {
		last = path[starts[m.n-1]:]
	}
	if mid := r.methodID(method); mid != 0 {
		for c, verb := r.nextVerb(last, pct, 0); c >= 0; c, verb = r.nextVerb(last, pct, c+1) {
			m.setVerb(verb, c, lastEnd, mid)
			if l := m.find(0, r.nodes[0].next, 0); l != nil {
				return result(l, path, starts, pct, r.multi, vars), Found
			}
		}
		m.setVerb(0, -1, lastEnd, mid)
		if l := m.find(0, r.nodes[0].next, 0); l != nil {
			return result(l, path, starts, pct, r.multi, vars), Found
		}
	}

	var allow []string
	m.setVerb(0, -1, lastEnd, 0)
	m.collect(0, 0, &allow)
	for c, verb := r.nextVerb(last, pct, 0); c >= 0; c, verb = r.nextVerb(last, pct, c+1) {
		m.setVerb(verb, c, lastEnd, 0)
		m.collect(0, 0, &allow)
	}
	if len(allow) == 0 {
		return Match{}, NotFound
	}
	slices.Sort(allow)
	return Match{Allow: slices.Compact(allow)}, MethodNotAllowed
}

// nextVerb returns the offset, from from on, of the first ':' in last (the
// path's last segment, verb included) whose following text is a verb some
// route has, and that verb's id; -1 when there is none. Walking the colons
// left to right tries the longest verbs first. It takes plain values, not
// the matcher, so that the matcher stays on the stack.
func (r *Router) nextVerb(last string, pct bool, from int) (int, uint32) {
	if r.verbs.slots == nil {
		return -1, 0
	}
	for c := from; c < len(last); c++ {
		j := strings.IndexByte(last[c:], ':')
		if j < 0 {
			return -1, 0
		}
		c += j
		if c == 0 || c == len(last)-1 {
			continue
		}
		verb := last[c+1:]
		var id uint32
		if pct && strings.IndexByte(verb, '%') >= 0 {
			var buf [64]byte
			id = r.verbs.find(string(appendCanonical(buf[:0], verb)))
		} else {
			id = r.verbs.find(verb)
		}
		if id != 0 {
			return c, id
		}
	}
	return -1, 0
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

// find returns the leaf for m.key (method and verb) reached from node ni,
// whose node.next is next, by segments [i, m.n), trying literal, then
// "*", then "**" at each step.
func (m *matcher) find(ni, next uint32, i int) *leaf {
	if i == m.n {
		// A node's ends are few (its template's methods and verbs) and
		// next to one another, sorted by key: a scan reads a cache line
		// of a small array, where a hash table of every end was a miss
		// into a larger one (and took about 50 B per binding).
		n := &m.r.nodes[ni]
		for _, e := range m.r.ends[n.ends : n.ends+n.endN] {
			if e.key >= m.key {
				if e.key == m.key {
					return e.leaf
				}
				break
			}
		}
	} else {
		if id := m.ids[i]; id != 0 {
			if e := m.r.child(ni, id); e != nil {
				if l := m.find(e.child, e.next, i+1); l != nil {
					return l
				}
			}
		}
		if s := next &^ restBit; s != 0 {
			if l := m.find(s, m.r.nodes[s].next, i+1); l != nil {
				return l
			}
		}
	}
	if next&restBit == 0 {
		return nil
	}
	n := &m.r.nodes[ni]
	for _, l := range m.r.rest[n.rest : n.rest+n.resN] {
		if l.key == m.key && m.tailMatches(l.tail, i) {
			return l
		}
	}
	return nil
}

// tailMatches reports whether the segments after a "**" that starts at
// segment i match the end of the path: "**" takes all but the last
// len(tail) segments.
func (m *matcher) tailMatches(tail []uint32, i int) bool {
	k := m.n - len(tail)
	if k < i {
		return false
	}
	for j, id := range tail {
		if id != 0 && m.ids[k+j] != id {
			return false
		}
	}
	return true
}

// collect appends the methods of every route matching segments [i, m.n)
// from node ni with m.verb, whatever their method.
func (m *matcher) collect(ni uint32, i int, allow *[]string) {
	n := &m.r.nodes[ni]
	if i < m.n {
		if id := m.ids[i]; id != 0 {
			if e := m.r.child(ni, id); e != nil {
				m.collect(e.child, i+1, allow)
			}
		}
		if s := n.next &^ restBit; s != 0 {
			m.collect(s, i+1, allow)
		}
	} else {
		for _, e := range m.r.ends[n.ends : n.ends+n.endN] {
			if uint32(e.key>>32) == m.verb {
				*allow = append(*allow, m.r.methods[uint32(e.key)-1])
			}
		}
	}
	for _, l := range m.r.rest[n.rest : n.rest+n.resN] {
		if uint32(l.key>>32) == m.verb && m.tailMatches(l.tail, i) {
			*allow = append(*allow, m.r.methods[uint32(l.key)-1])
		}
	}
}

// result decodes the variables of l from the matched path, whose segment i
// is path[starts[i]:starts[i+1]-1], appending them to vars[:0]. It is a
// function rather than a matcher method so that escape analysis sees that
// only path and vars, not starts, reach the result: starts lives in the
// caller's stack buffer.
func result(l *leaf, path string, starts []int, pct bool, multi decodeMode, vars []Var) Match {
	res := Match{Route: l.route}
	if len(l.vars) == 0 {
		return res
	}
	n := len(starts) - 1
	if cap(vars) < len(l.vars) {
		vars = make([]Var, 0, len(l.vars))
	}
	res.Vars = vars[:0]
	for _, v := range l.vars {
		start, end := l.pos(int(v.start), n), l.pos(int(v.end), n)
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
		res.Vars = append(res.Vars, Var{FieldPath: v.path, Value: raw})
	}
	return res
}
