package httprule

import "strings"

// SegmentKind says what one segment of a template matches.
type SegmentKind uint8

const (
	// Literal matches one path segment equal to the segment's literal text
	// once both are in canonical form (escaped unreserved characters decoded,
	// hex digits upper-cased).
	Literal SegmentKind = iota + 1
	// Wildcard ("*") matches exactly one non-empty path segment.
	Wildcard
	// DeepWildcard ("**") matches zero or more path segments: all of the
	// request's segments but those the rest of the template matches. A
	// template has at most one.
	DeepWildcard
)

// String returns the template syntax of the kind: "literal", "*" or "**".
func (k SegmentKind) String() string {
	switch k {
	case Literal:
		return "literal"
	case Wildcard:
		return "*"
	case DeepWildcard:
		return "**"
	}
	return "invalid"
}

// Segment is one slash-separated element of a template.
type Segment struct {
	Kind SegmentKind
	// Literal is the canonical text of a Literal segment, still
	// percent-encoded where the spec requires it; empty for wildcards.
	Literal string
}

// Variable binds the path segments matched by Segments[Start:End] of its
// template to a request field.
type Variable struct {
	// FieldPath is the dotted request field path split on ".", e.g.
	// ["book", "name"] for {book.name=shelves/*/books/*}.
	FieldPath []string
	// Start and End delimit, half-open, the template segments the variable
	// spans. {name} spans one Wildcard segment.
	Start, End int
}

// Template is a parsed, validated google.api.http path template. It is
// immutable and safe for concurrent use; accessors return copies.
type Template struct {
	segments  []Segment
	variables []Variable
	deep      int    // index of the "**" segment, or -1
	verb      string // canonical, without the leading ':'
	str       string // canonical text, see String
}

// Segments returns a copy of the template's segments, in path order. The
// root template "/" has none.
func (t *Template) Segments() []Segment {
	return append([]Segment(nil), t.segments...)
}

// Variables returns a copy of the template's variables in the order they
// appear.
func (t *Template) Variables() []Variable {
	vs := make([]Variable, len(t.variables))
	for i, v := range t.variables {
		vs[i] = v
		vs[i].FieldPath = append([]string(nil), v.FieldPath...)
	}
	return vs
}

// Verb returns the custom verb in canonical form without its ':' (e.g.
// "cancel" for "/v1/{name=operations/**}:cancel"), or "" when there is none.
func (t *Template) Verb() string { return t.verb }

// String returns the canonical text of the template: literals and the verb in
// canonical percent-encoding and {var=*} written {var}. Parse(t.String())
// yields a template with the same String. Two templates with the same String
// bind the same fields to the same parts of the path.
func (t *Template) String() string { return t.str }

// Shape returns the canonical text of the template with the variables
// erased, e.g. "/v1/shelves/*" for both "/v1/{name=shelves/*}" and
// "/v1/shelves/{shelf}". Two templates match exactly the same paths if and
// only if their shapes are equal, which is what route conflict detection
// compares. It is computed on each call: a route table needs it once per
// route, while it is built, and keeping it would cost memory per route.
func (t *Template) Shape() string {
	var sh strings.Builder
	if len(t.segments) == 0 {
		sh.WriteByte('/')
	}
	for _, seg := range t.segments {
		sh.WriteByte('/')
		sh.WriteString(seg.text())
	}
	if t.verb != "" {
		sh.WriteByte(':')
		sh.WriteString(t.verb)
	}
	return sh.String()
}

// render builds the canonical text from the parsed parts. src is the text
// parsed: when it is already canonical, as most templates are, the
// template shares it rather than holding a copy.
func (t *Template) render(src string) {
	var s strings.Builder
	varAt := make(map[int]Variable, len(t.variables))
	for _, v := range t.variables {
		varAt[v.Start] = v
	}
	if len(t.segments) == 0 {
		s.WriteByte('/')
	}
	for i := 0; i < len(t.segments); {
		s.WriteByte('/')
		v, ok := varAt[i]
		if !ok {
			s.WriteString(t.segments[i].text())
			i++
			continue
		}
		s.WriteByte('{')
		s.WriteString(strings.Join(v.FieldPath, "."))
		if v.End-v.Start != 1 || t.segments[v.Start].Kind != Wildcard {
			s.WriteByte('=')
			for j := v.Start; j < v.End; j++ {
				if j > v.Start {
					s.WriteByte('/')
				}
				s.WriteString(t.segments[j].text())
			}
		}
		s.WriteByte('}')
		i = v.End
	}
	if t.verb != "" {
		s.WriteByte(':')
		s.WriteString(t.verb)
	}
	t.str = s.String()
	if t.str == src {
		t.str = src
	}
}

func (s Segment) text() string {
	switch s.Kind {
	case Wildcard:
		return "*"
	case DeepWildcard:
		return "**"
	}
	return s.Literal
}
