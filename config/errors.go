package config

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
)

// Error is one problem in a configuration: where it is and what is wrong.
// Line and Column are 1-based and 0 when unknown, for example for a Config
// built from flags and checked with Validate.
type Error struct {
	// Source names where the configuration came from, usually a file path.
	Source string
	// Line and Column locate the offending key or value in Source.
	Line, Column int
	// Path is the key path of the offending value, like "upstreams[1].target";
	// empty when the problem concerns the whole document (a syntax error).
	Path string
	// Msg says what is wrong, in lower case without trailing punctuation.
	Msg string
}

// Error formats the problem as "source:line:column: path: message", leaving
// out the parts that are unknown.
func (e Error) Error() string {
	var b strings.Builder
	if e.Source != "" {
		b.WriteString(e.Source)
	}
	if e.Line > 0 {
		if b.Len() > 0 {
			b.WriteByte(':')
		}
		b.WriteString(strconv.Itoa(e.Line))
		if e.Column > 0 {
			b.WriteByte(':')
			b.WriteString(strconv.Itoa(e.Column))
		}
	}
	if b.Len() > 0 {
		b.WriteString(": ")
	}
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Errors is every problem found in one configuration. Parse, Load and
// Validate return it as *Errors so that callers such as "sluice validate"
// can print all problems at once; use errors.As to get at the list.
type Errors []Error

// Error prints one problem per line.
func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap exposes each problem to errors.Is and errors.As.
func (es Errors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

// maxErrors bounds the problems reported for one configuration; past it,
// one last entry says that the rest were left out. A document that repeats
// one mistake thousands of times (or aliases it) needs no more.
const maxErrors = 200

// tooMany is the entry that ends a list cut at maxErrors.
const tooMany = "too many problems; stopped reporting"

// add records a problem at path that has no known position yet.
func (es *Errors) add(path, msg string) {
	es.append(Error{Path: path, Msg: msg})
}

// append adds e unless the list is full.
func (es *Errors) append(e Error) {
	switch {
	case len(*es) < maxErrors:
		*es = append(*es, e)
	case len(*es) == maxErrors:
		*es = append(*es, Error{Line: e.Line, Column: e.Column, Msg: tooMany})
	}
}

// full reports whether further problems would be dropped.
func (es Errors) full() bool { return len(es) >= maxErrors }

// err returns nil for an empty list, so that a nil *Errors never hides
// inside a non-nil error interface.
func (es Errors) err() error {
	if len(es) == 0 {
		return nil
	}
	return &es
}

// sortByPosition orders problems as they appear in the document; problems
// without a position keep their relative order and come last, and the
// tooMany entry stays at the very end.
func (es Errors) sortByPosition() {
	slices.SortStableFunc(es, func(a, b Error) int {
		if (a.Msg == tooMany) != (b.Msg == tooMany) {
			if a.Msg == tooMany {
				return 1
			}
			return -1
		}
		if (a.Line == 0) != (b.Line == 0) {
			if a.Line == 0 {
				return 1
			}
			return -1
		}
		return cmp.Or(cmp.Compare(a.Line, b.Line), cmp.Compare(a.Column, b.Column))
	})
}
