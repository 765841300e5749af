package config

import (
	"bytes"
	"errors"
	"io"
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Parse reads one YAML document into a Config that starts from Default, then
// validates it. It is strict: unknown keys, duplicate keys, values of the
// wrong type and more than one document are errors. An empty document yields
// the defaults. source names the document in errors, usually its file path.
//
// On failure Parse returns a nil Config and an *Errors holding every problem
// found, in document order, each with its key path and, where the document
// has one, its line and column.
func Parse(data []byte, source string) (*Config, error) {
	cfg := Default()
	root, errs := parseDocument(data)
	var d decoder
	if root != nil {
		d.decode(root, reflect.ValueOf(&cfg).Elem(), "")
		errs = append(errs, d.errs...)
	}
	// Validate even when decoding failed, so that one run reports every
	// problem; skip what follows from a value that failed to decode.
	if !d.exhausted() {
		for _, e := range cfg.validate() {
			if d.covers(e.Path) {
				continue
			}
			if root != nil {
				n := locate(root, e.Path)
				e.Line, e.Column = n.Line, n.Column
			}
			errs.append(e)
		}
	}
	if len(errs) > 0 {
		for i := range errs {
			errs[i].Source = source
		}
		errs.sortByPosition()
		return nil, &errs
	}
	return &cfg, nil
}

// Load reads the file at path and parses it with Parse, naming the file in
// errors. A file that cannot be read is reported as the *fs.PathError from
// os.ReadFile, so that errors.Is(err, fs.ErrNotExist) works.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(data, path)
}

// syntaxLine extracts the line from yaml.v3's syntax errors, which read
// "yaml: line 3: mapping values are not allowed in this context".
var syntaxLine = regexp.MustCompile(`^yaml: line (\d+): `)

// parseDocument parses data into the node of its single document's content:
// nil for an empty document. A syntax error or a second document yields an
// Error and no node.
func parseDocument(data []byte) (*yaml.Node, Errors) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, Errors{syntaxError(err)}
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case errors.Is(err, io.EOF):
	case err != nil:
		return nil, Errors{syntaxError(err)}
	default:
		return nil, Errors{{Line: next.Line, Column: next.Column, Msg: "a configuration is one YAML document; found a second one"}}
	}
	if len(doc.Content) == 0 {
		return nil, nil // only comments
	}
	root := doc.Content[0]
	if r := resolveAlias(root); r.Kind != yaml.MappingNode && r.ShortTag() != "!!null" {
		return nil, Errors{{Line: root.Line, Column: root.Column, Msg: "the document must be a mapping of keys to values, got " + describe(root)}}
	}
	return root, nil
}

func syntaxError(err error) Error {
	msg := err.Error()
	line := 0
	if m := syntaxLine.FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = msg[len(m[0]):]
	} else {
		msg = strings.TrimPrefix(msg, "yaml: ")
	}
	return Error{Line: line, Msg: "invalid YAML: " + msg}
}

// covers reports whether path is at or below a path that failed to decode.
func (d *decoder) covers(path string) bool {
	for p := path; ; {
		if d.failed[p] {
			return true
		}
		i := strings.LastIndexAny(p, ".[")
		if i < 0 {
			return false
		}
		p = p[:i]
	}
}

// pathSegment matches one step of a key path: a key or an index.
var pathSegment = regexp.MustCompile(`^(?:\.?([^.\[]+)|\[(\d+)\])`)

// locate finds the node a key path points to, following aliases and merge
// keys. When the path leads to a key that is absent, for example a required
// key left out, it returns the deepest node on the way, so that the error
// points at the mapping that lacks the key.
func locate(root *yaml.Node, path string) *yaml.Node {
	n := resolveAlias(root)
	for path != "" {
		m := pathSegment.FindStringSubmatch(path)
		if m == nil {
			return n
		}
		path = path[len(m[0]):]
		var next *yaml.Node
		if m[2] != "" {
			i, err := strconv.Atoi(m[2])
			if err == nil && n.Kind == yaml.SequenceNode && i < len(n.Content) {
				next = n.Content[i]
			}
		} else if n.Kind == yaml.MappingNode {
			for _, p := range mappingPairs(n) {
				if p.key.Kind == yaml.ScalarNode && p.key.Value == m[1] {
					next = p.value
					break
				}
			}
		}
		if next == nil {
			return n
		}
		n = resolveAlias(next)
	}
	return n
}
