package httprule

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// ParseError reports why a path template was rejected and where.
type ParseError struct {
	// Template is the text that was parsed.
	Template string
	// Offset is the zero-based byte offset of the problem in Template.
	Offset int
	// Reason says what is wrong, in lower case.
	Reason string
}

// Error returns e.g. `parse path template "/v1/{a": column 5: variable "{a" is not closed`.
func (e *ParseError) Error() string {
	return fmt.Sprintf("parse path template %q: column %d: %s", e.Template, e.Offset+1, e.Reason)
}

// Parse compiles a google.api.http path template:
//
//	Template = "/" Segments [ Verb ] ;
//	Segments = Segment { "/" Segment } ;
//	Segment  = "*" | "**" | LITERAL | Variable ;
//	Variable = "{" FieldPath [ "=" Segments ] "}" ;
//	FieldPath = IDENT { "." IDENT } ;
//	Verb     = ":" LITERAL ;
//
// On top of the grammar it enforces the spec's rules: at most one "**" per
// template (anything may follow it: literals, "*", variables, a verb), no
// nested variables, no empty segments, no field bound twice (nor a field and
// one of its sub-fields), LITERAL made of RFC 3986 path characters
// (unreserved, sub-delims, ':', '@' and valid "%XX" escapes, but not '*',
// which would read as a wildcard). {var} means {var=*}.
//
// The verb is found in the last segment (the text after the last '/'
// outside any variable). When that segment is a variable, "*" or "**", the
// verb is all the text after it and a ':', colons included: "/v1/{uuid}:a:b"
// has the verb "a:b", as grpc-gateway reads it. Otherwise it is the text
// after the segment's last ':' outside any variable: "/v1/{name=a:b}" has no
// verb and "/v1/a:b:c" is the literal "a:b" with the verb "c". The bare
// root "/" is accepted as a template with no segments, as grpc-gateway
// does, although the grammar requires one.
//
// Errors are *ParseError values naming the template and the column.
func Parse(template string) (*Template, error) {
	p := parser{src: template}
	return p.parse()
}

type parser struct {
	src  string
	segs []Segment
	offs []int // offset of each segment in src, for error messages
	vars []Variable
	vofs []int // offset of each variable's '{'
}

func (p *parser) errorf(off int, format string, args ...any) error {
	return &ParseError{Template: p.src, Offset: off, Reason: fmt.Sprintf(format, args...)}
}

func (p *parser) parse() (*Template, error) {
	src := p.src
	if src == "" || src[0] != '/' {
		return nil, p.errorf(0, "a template must start with '/'")
	}
	t := &Template{deep: -1}
	if src == "/" {
		t.render(src)
		return t, nil
	}

	// Every segment follows one '/' and every variable opens with one '{',
	// so these are the exact sizes: a route table keeps every template it
	// parses, with no spare capacity.
	p.segs = make([]Segment, 0, strings.Count(src, "/"))
	p.offs = make([]int, 0, cap(p.segs))
	if n := strings.Count(src, "{"); n > 0 {
		p.vars = make([]Variable, 0, n)
	}

	// Find the verb. The last segment is the text after the last '/' at
	// variable depth 0. When it is a variable, the verb is everything after
	// the variable's '}' and a ':' (so "{uuid}:custom:custom" has the verb
	// "custom:custom", as grpc-gateway reads it); otherwise it is the text
	// after the segment's last ':' ("a:b:c" is the literal "a:b" with the
	// verb "c"). Unbalanced braces are reported by the segment parser.
	end := p.verbStart()
	if end < len(src) {
		verb := src[end+1:]
		if verb == "" {
			return nil, p.errorf(end, "empty verb after ':'")
		}
		if err := p.checkLiteral(verb, end+1, "verb"); err != nil {
			return nil, err
		}
		t.verb = canonical(verb)
	}

	i := 1
	for {
		var err error
		if i < end && p.src[i] == '{' {
			i, err = p.variable(i, end)
		} else {
			i, err = p.segment(i, end, false)
		}
		if err != nil {
			return nil, err
		}
		if i == end {
			break
		}
		i++ // the '/'
	}

	deep := -1
	for k, s := range p.segs {
		if s.Kind != DeepWildcard {
			continue
		}
		if deep >= 0 {
			return nil, p.errorf(p.offs[k], "a second '**'; a template may have only one")
		}
		deep = k
	}
	if err := p.checkFieldPaths(); err != nil {
		return nil, err
	}
	t.segments, t.variables, t.deep = p.segs, p.vars, deep
	t.render(src)
	return t, nil
}

// verbStart returns the offset of the ':' that starts the template's verb,
// or len(p.src) when it has none. See parse for the rule.
func (p *parser) verbStart() int {
	src := p.src
	last, depth := 1, 0
	for i := 1; i < len(src); i++ {
		switch src[i] {
		case '{':
			depth++
		case '}':
			depth--
		case '/':
			if depth == 0 {
				last = i + 1
			}
		}
	}
	if strings.HasPrefix(src[last:], "*:") || strings.HasPrefix(src[last:], "**:") {
		return strings.IndexByte(src[last:], ':') + last
	}
	if last < len(src) && src[last] == '{' {
		depth = 0
		for i := last; i < len(src); i++ {
			switch src[i] {
			case '{':
				depth++
			case '}':
				depth--
				if depth == 0 {
					if i+1 < len(src) && src[i+1] == ':' {
						return i + 1
					}
					return len(src)
				}
			}
		}
		return len(src)
	}
	depth = 0
	end := len(src)
	for i := last; i < len(src); i++ {
		switch src[i] {
		case '{':
			depth++
		case '}':
			depth--
		case ':':
			if depth == 0 {
				end = i
			}
		}
	}
	return end
}

// checkFieldPaths rejects a field bound twice, directly or through one of
// its sub-fields ({a} and {a.b}), in time linear in the template's length.
func (p *parser) checkFieldPaths() error {
	whole := make(map[string]int, len(p.vars))  // joined path -> variable
	prefix := make(map[string]int, len(p.vars)) // joined proper prefix -> variable
	for a, v := range p.vars {
		key := strings.Join(v.FieldPath, ".")
		other, dup := whole[key]
		if !dup {
			other, dup = prefix[key]
		}
		for k := 1; k < len(v.FieldPath) && !dup; k++ {
			other, dup = whole[strings.Join(v.FieldPath[:k], ".")]
		}
		if dup {
			return p.errorf(p.vofs[a], "field %q is bound twice (overlaps %q)",
				key, strings.Join(p.vars[other].FieldPath, "."))
		}
		whole[key] = a
		for k := 1; k < len(v.FieldPath); k++ {
			prefix[strings.Join(v.FieldPath[:k], ".")] = a
		}
	}
	return nil
}

// segment parses a "*", "**" or LITERAL segment starting at i and ending at
// '/', at end, or (inVar) at '}'. It returns the offset just past it.
func (p *parser) segment(i, end int, inVar bool) (int, error) {
	j := i
	for j < end && p.src[j] != '/' && !(inVar && p.src[j] == '}') {
		j++
	}
	text := p.src[i:j]
	switch text {
	case "":
		return 0, p.errorf(i, "empty segment")
	case "*":
		p.add(Segment{Kind: Wildcard}, i)
	case "**":
		p.add(Segment{Kind: DeepWildcard}, i)
	default:
		if err := p.checkLiteral(text, i, "literal"); err != nil {
			return 0, err
		}
		p.add(Segment{Kind: Literal, Literal: canonical(text)}, i)
	}
	return j, nil
}

func (p *parser) add(s Segment, off int) {
	p.segs = append(p.segs, s)
	p.offs = append(p.offs, off)
}

// variable parses "{" FieldPath [ "=" Segments ] "}" starting at i.
func (p *parser) variable(i, end int) (int, error) {
	open := i
	i++
	var path []string
	for {
		j := i
		for j < end && (isIdentChar(p.src[j])) {
			j++
		}
		ident := p.src[i:j]
		switch {
		case ident == "" && j == end:
			return 0, p.errorf(open, "variable %q is not closed", p.src[open:end])
		case ident == "":
			if j < end && p.src[j] != '.' && p.src[j] != '=' && p.src[j] != '}' {
				return 0, p.errorf(j, "invalid character %s in field path", charAt(p.src, j))
			}
			return 0, p.errorf(j, "empty field name in variable")
		case ident[0] >= '0' && ident[0] <= '9':
			return 0, p.errorf(i, "field name %q must not start with a digit", ident)
		}
		path = append(path, ident)
		if j == end {
			return 0, p.errorf(open, "variable %q is not closed", p.src[open:end])
		}
		i = j + 1
		switch p.src[j] {
		case '.':
			continue
		case '}', '=':
		default:
			return 0, p.errorf(j, "invalid character %s in field path", charAt(p.src, j))
		}
		break
	}

	v := Variable{FieldPath: path, Start: len(p.segs)}
	if p.src[i-1] == '}' {
		p.add(Segment{Kind: Wildcard}, i-1)
	} else {
		for {
			if i < end && p.src[i] == '{' {
				return 0, p.errorf(i, "nested variable; a variable's template may not contain variables")
			}
			var err error
			if i, err = p.segment(i, end, true); err != nil {
				return 0, err
			}
			if i == end {
				return 0, p.errorf(open, "variable %q is not closed", p.src[open:end])
			}
			i++
			if p.src[i-1] == '}' {
				break
			}
		}
	}
	v.End = len(p.segs)
	p.vars = append(p.vars, v)
	p.vofs = append(p.vofs, open)
	if i < end && p.src[i] != '/' {
		return 0, p.errorf(i, "unexpected %q after variable; a variable must be a whole segment", p.src[i])
	}
	return i, nil
}

// charAt describes the character at s[i] for an error message: the quoted
// rune, or the byte in hex when s is not valid UTF-8 there.
func charAt(s string, i int) string {
	r, n := utf8.DecodeRuneInString(s[i:])
	if r == utf8.RuneError && n <= 1 {
		return fmt.Sprintf("byte 0x%02X", s[i])
	}
	return strconv.QuoteRune(r)
}

func isIdentChar(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_'
}

// checkLiteral validates the characters of a LITERAL (what says which, for
// the message) found at offset off.
func (p *parser) checkLiteral(s string, off int, what string) error {
	for k := 0; k < len(s); k++ {
		c := s[k]
		switch {
		case c == '%':
			if k+2 >= len(s) || !isHex(s[k+1]) || !isHex(s[k+2]) {
				return p.errorf(off+k, "invalid percent-encoding in %s %q", what, s)
			}
			k += 2
		case c == '*':
			return p.errorf(off+k, "'*' in %s %q; a wildcard must be a whole segment, write %%2A for a literal '*'", what, s)
		case c == '{' || c == '}':
			return p.errorf(off+k, "unexpected %q in %s %q; a variable must be a whole segment", c, what, s)
		case isUnreserved(c) || isSubDelim(c) || c == ':' || c == '@':
		default:
			return p.errorf(off+k, "invalid character %s in %s %q; percent-encode it", charAt(s, k), what, s)
		}
	}
	return nil
}
