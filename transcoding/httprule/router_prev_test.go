package httprule

// This file keeps the route trie as it was before the matcher was laid out
// in flat tables (commit b222eb2), as the reference of the differential
// tests in router_diff_test.go: the new matcher must pick the same route,
// bind the same variables and allow the same methods for every request.

import (
	"slices"
	"strings"
)

// buildPrev returns the previous router over the routes added so far.
func (b *Builder) buildPrev() *prevRouter {
	r := &prevRouter{root: &prevNode{}, multi: keepReserved}
	if b.cfg.fullyDecodeReserved {
		r.multi = keepSlashOnly
	}
	for _, rt := range b.routes {
		r.insert(rt)
	}
	r.root.finish()
	return r
}

// prevRouter is the route trie of pointers, with the matching rules of
// Router.
type prevRouter struct {
	root  *prevNode
	multi decodeMode          // how multi-segment variables are decoded
	verbs map[string]struct{} // every route's verb, canonical
}

// prevNode is a trie prevNode at a given segment depth. Literal children are kept
// in a sorted slice while there are few of them, which costs far less memory
// than a map per prevNode, and move to a map when there are many.
type prevNode struct {
	edges []prevEdge           // sorted by literal; nil once byLit is used
	byLit map[string]*prevNode // literal children when there are many
	// lens and firsts have bit k set when some literal child has length
	// k%64, or first byte k%64: most request segments are resource IDs
	// that name no literal, and these two tests turn most of them away
	// before a search or a hash.
	lens, firsts uint64
	star         *prevNode   // child for "*"
	leaves       *prevLeaves // nil on the many nodes where no template ends
}

// prevLeaves are the templates that end at a prevNode, or whose "**" starts there.
type prevLeaves struct {
	ends []*prevLeaf // sorted by prevCompareLeaves
	rest []*prevLeaf // by precedence, see prevCompareTails
}

type prevEdge struct {
	lit   string
	child *prevNode
}

// prevMaxEdges is the number of literal children kept in a slice; past it a
// prevNode uses a map. Binary search over a few strings is as fast as hashing.
const prevMaxEdges = 16

// child returns the child for the canonical literal lit, or nil.
func (n *prevNode) child(lit string) *prevNode {
	if n.byLit != nil {
		return n.byLit[lit]
	}
	if len(n.edges) <= prevLinearEdges {
		for i := range n.edges {
			if n.edges[i].lit == lit {
				return n.edges[i].child
			}
		}
		return nil
	}
	i := prevSearchEdges(n.edges, lit)
	if i < len(n.edges) && n.edges[i].lit == lit {
		return n.edges[i].child
	}
	return nil
}

// prevSearchEdges returns the index of the first prevEdge whose literal is not
// less than lit. It compares with operators rather than strings.Compare or
// a closure, through which the request path would escape to the heap, and
// with it the prevMatcher's stack buffer.
func prevSearchEdges(edges []prevEdge, lit string) int {
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

// prevLinearEdges is the number of literal children searched one by one:
// comparing a few strings for equality beats a binary search.
const prevLinearEdges = 8

// addChild returns the child for lit, creating it.
func (n *prevNode) addChild(lit string) *prevNode {
	if c := n.child(lit); c != nil {
		return c
	}
	c := &prevNode{}
	n.lens |= 1 << (len(lit) % 64)
	n.firsts |= 1 << (lit[0] % 64)
	if n.byLit != nil {
		n.byLit[lit] = c
		return c
	}
	n.edges = slices.Insert(n.edges, prevSearchEdges(n.edges, lit), prevEdge{lit, c})
	if len(n.edges) > prevMaxEdges {
		n.byLit = make(map[string]*prevNode, len(n.edges))
		for _, e := range n.edges {
			n.byLit[e.lit] = e.child
		}
		n.edges = nil
	}
	return c
}

// prevLeafSet returns n's prevLeaves, creating them.
func (n *prevNode) leafSet() *prevLeaves {
	if n.leaves == nil {
		n.leaves = &prevLeaves{}
	}
	return n.leaves
}

// finish orders each prevNode's "**" prevLeaves by precedence and trims the
// slices built by appending, once every route is in.
func (n *prevNode) finish() {
	if ls := n.leaves; ls != nil {
		slices.SortStableFunc(ls.rest, func(a, b *prevLeaf) int { return prevCompareTails(a.tail, b.tail) })
		slices.SortFunc(ls.ends, prevCompareLeaves)
		ls.ends, ls.rest = prevExact(ls.ends), prevExact(ls.rest)
	}
	n.edges = prevExact(n.edges)
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

// prevExact returns s without spare capacity, copying it if it has some: a
// router lives as long as its contracts, appending left up to half of each
// slice unused.
func prevExact[S ~[]E, E any](s S) S {
	if cap(s) == len(s) {
		return s
	}
	return slices.Clone(s)
}

// prevCompareTails orders the segments after two "**": the more specific first
// (more segments, then a literal before "*", left to right).
func prevCompareTails(a, b []Segment) int {
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

type prevLeaf struct {
	verb   string
	method string
	route  *Route
	vars   []prevVarSpec
	tail   []Segment // the segments after "**", for a prevLeaf in prevNode.rest
	nsegs  int       // the template's number of segments
	deep   int       // index of the template's "**", or -1
}

// pos maps a boundary j between the template's segments to the boundary
// between the n path segments it matched: the same before "**", counted
// from the end of the path after it.
func (l *prevLeaf) pos(j, n int) int {
	if l.deep < 0 || j <= l.deep {
		return j
	}
	return n - (l.nsegs - j)
}

type prevVarSpec struct {
	path       []string
	start, end int  // template segment boundaries, half-open
	multi      bool // multi-segment decoding rules
}

func (r *prevRouter) insert(rt *Route) {
	t := rt.Template
	l := &prevLeaf{verb: t.verb, method: rt.Method, route: rt, nsegs: len(t.segments), deep: t.deep}
	if len(t.variables) > 0 {
		l.vars = make([]prevVarSpec, 0, len(t.variables))
	}
	for _, v := range t.variables {
		l.vars = append(l.vars, prevVarSpec{
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
				n.star = &prevNode{}
			}
			n = n.star
		case DeepWildcard:
			if k+1 < len(t.segments) {
				l.tail = t.segments[k+1:]
			}
			n.leafSet().rest = append(n.leafSet().rest, l)
			return
		}
	}
	n.leafSet().ends = append(n.leafSet().ends, l)
}

// prevMatcher is the per-request state of a match. It lives on the stack.
type prevMatcher struct {
	path   string
	starts []int // starts[i] is where segment i begins; starts[n] is one past its end + 1
	n      int
	verb   string
	method string
	pct    bool // path has escapes
}

func (m *prevMatcher) seg(i int) string { return m.path[m.starts[i] : m.starts[i+1]-1] }

// lookup returns n's child for segment i, comparing in canonical form.
func (m *prevMatcher) lookup(n *prevNode, i int) *prevNode {
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
// prevRouter for the matching rules. Only Found carries a Route and Vars, only
// MethodNotAllowed carries Allow.
func (r *prevRouter) Match(method, path string) (Match, MatchResult) {
	if r == nil || r.root == nil || path == "" || path[0] != '/' {
		return Match{}, NotFound
	}
	pct := strings.IndexByte(path, '%') >= 0
	if pct && !validEscapes(path) {
		return Match{}, MalformedPath
	}
	var buf [16]int
	starts, ok := prevSplit(path, buf[:0])
	if !ok {
		return Match{}, NotFound
	}
	m := prevMatcher{path: path, starts: starts, n: len(starts) - 1, method: method, pct: pct}

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
			return prevResult(l, path, starts, pct, r.multi), Found
		}
	}
	m.verb, starts[m.n] = "", lastEnd
	if l := m.find(r.root, 0); l != nil {
		return prevResult(l, path, starts, pct, r.multi), Found
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
// plain values, not the prevMatcher, so that the prevMatcher stays on the stack.
func (r *prevRouter) nextVerb(last string, pct bool, from int) (int, string) {
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

// prevSplit appends to starts the offset of each segment of path (which starts
// with '/') and a final sentinel one past the end + 1, so segment i is
// path[starts[i]:starts[i+1]-1]. It reports false if a segment is empty.
func prevSplit(path string, starts []int) ([]int, bool) {
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

// find returns the prevLeaf for m.method and m.verb reached from n by segments
// [i, m.n), trying literal, then "*", then "**" at each step.
func (m *prevMatcher) find(n *prevNode, i int) *prevLeaf {
	if i == m.n {
		if n.leaves == nil {
			return nil
		}
		if l := prevPick(n.leaves.ends, m.verb, m.method); l != nil {
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
	if n.leaves == nil {
		return nil
	}
	for _, l := range n.leaves.rest {
		if l.method == m.method && l.verb == m.verb && m.tailMatches(l.tail, i) {
			return l
		}
	}
	return nil
}

// tailMatches reports whether the segments after a "**" that starts at
// segment i match the end of the path: "**" takes all but the last
// len(tail) segments.
func (m *prevMatcher) tailMatches(tail []Segment, i int) bool {
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

// prevPick returns the prevLeaf of ends, sorted by prevCompareLeaves, with verb and
// method. Nodes shared by many APIs ("/v1/projects/*/locations/*") hold
// dozens of prevLeaves, one per verb and method, hence the binary search.
func prevPick(ends []*prevLeaf, verb, method string) *prevLeaf {
	if len(ends) <= prevLinearEdges {
		for _, l := range ends {
			if l.method == method && l.verb == verb {
				return l
			}
		}
		return nil
	}
	// A binary search by hand: see prevSearchEdges.
	lo, hi := 0, len(ends)
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if prevCompareKey(ends[mid], verb, method) < 0 {
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

// prevCompareLeaves orders the prevLeaves that end at one prevNode by verb, then
// method; no two have both equal.
func prevCompareLeaves(a, b *prevLeaf) int { return prevCompareKey(a, b.verb, b.method) }

// prevCompareKey compares with operators: see prevSearchEdges.
func prevCompareKey(l *prevLeaf, verb, method string) int {
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
func (m *prevMatcher) collect(n *prevNode, i int, allow *[]string) {
	if i < m.n {
		if c := m.lookup(n, i); c != nil {
			m.collect(c, i+1, allow)
		}
		if n.star != nil {
			m.collect(n.star, i+1, allow)
		}
	}
	if n.leaves == nil {
		return
	}
	if i == m.n {
		for _, l := range n.leaves.ends {
			if l.verb == m.verb {
				*allow = append(*allow, l.method)
			}
		}
	}
	for _, l := range n.leaves.rest {
		if l.verb == m.verb && m.tailMatches(l.tail, i) {
			*allow = append(*allow, l.method)
		}
	}
}

// prevResult decodes the variables of l from the matched path, whose segment i
// is path[starts[i]:starts[i+1]-1]. It is a function rather than a prevMatcher
// method so that escape analysis sees that only path, not starts, reaches
// the heap: starts lives in the caller's stack buffer.
func prevResult(l *prevLeaf, path string, starts []int, pct bool, multi decodeMode) Match {
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
