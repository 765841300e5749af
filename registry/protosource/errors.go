package protosource

import (
	"strconv"
	"strings"
)

// Error is one problem in the sources: where it is and what is wrong.
// Line and Column are 1-based and 0 when unknown (a root that does not
// exist has neither).
type Error struct {
	// File is the path of the file on disk, as the roots name it, or its
	// import path when it is not on disk (an embedded googleapis file).
	File string
	// Line and Column locate the problem in File.
	Line, Column int
	// Msg says what is wrong.
	Msg string
}

// Error formats the problem as "file:line:column: message", leaving out
// what is unknown, as compilers and `sluice validate` print problems.
func (e Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		b.WriteByte(':')
		b.WriteString(strconv.Itoa(e.Line))
		if e.Column > 0 {
			b.WriteByte(':')
			b.WriteString(strconv.Itoa(e.Column))
		}
	}
	if b.Len() > 0 {
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Errors is every problem found by one compilation, sorted by file, line
// and column.
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
