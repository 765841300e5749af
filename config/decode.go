package config

import (
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// The decoder walks a yaml.Node tree and the Config type side by side, so
// that every problem gets the key path and the line and column of the node
// it concerns, and so that all problems are found in one pass. yaml.v3's own
// strict decoding reports only line numbers and no key paths.
//
// A null value (an empty value, "~" or "null") leaves the default in place.
// Anchors, aliases and merge keys ("<<: *base") work as in YAML 1.1, and
// top-level keys starting with "x-" are ignored so that shared values can be
// anchored there.

// maxVisits bounds the work aliases can cause: an alias is expanded each
// time it is used, so a small document can name a very large one.
const maxVisits = 1 << 20

type decoder struct {
	errs   Errors
	visits int
	// failed holds the paths that could not be decoded; Validate problems at
	// or below them are not reported, since they follow from the first.
	failed map[string]bool
}

func (d *decoder) fail(n *yaml.Node, path, format string, args ...any) {
	if d.failed == nil {
		d.failed = make(map[string]bool)
	}
	d.failed[path] = true
	if len(d.errs) <= maxErrors { // append adds the cut marker, then drops
		d.errs.append(Error{Line: n.Line, Column: n.Column, Path: path, Msg: fmt.Sprintf(format, args...)})
	}
}

// tick counts one unit of work and reports whether the budget allows it.
func (d *decoder) tick(n *yaml.Node, path string) bool {
	d.visits++
	if d.visits == maxVisits {
		d.fail(n, path, "document too large once aliases are expanded")
	}
	return d.visits < maxVisits
}

// exhausted reports whether decoding stopped early, leaving a config not
// worth validating.
func (d *decoder) exhausted() bool { return d.visits >= maxVisits || d.errs.full() }

// decode stores n into v, which must be addressable.
func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string) {
	n = resolveAlias(n)
	if !d.tick(n, path) {
		return
	}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		return
	}
	if u, ok := v.Addr().Interface().(yaml.Unmarshaler); ok {
		if err := u.UnmarshalYAML(n); err != nil {
			d.fail(n, path, "%s", err.Error())
		}
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		d.decodeStruct(n, v, path)
	case reflect.Slice:
		d.decodeSlice(n, v, path)
	case reflect.String:
		if n.Kind != yaml.ScalarNode {
			d.fail(n, path, "must be a string, got a %s", kindName(n))
			return
		}
		v.SetString(n.Value)
	case reflect.Bool:
		var b bool
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" || n.Decode(&b) != nil {
			d.fail(n, path, "must be true or false, got %s", describe(n))
			return
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		var i int64
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" || n.Decode(&i) != nil || v.OverflowInt(i) {
			d.fail(n, path, "must be an integer between %d and %d, got %s", minInt(v.Type()), maxInt(v.Type()), describe(n))
			return
		}
		v.SetInt(i)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		var i uint64
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" || n.Decode(&i) != nil || v.OverflowUint(i) {
			d.fail(n, path, "must be an integer between 0 and %d, got %s", maxUint(v.Type()), describe(n))
			return
		}
		v.SetUint(i)
	case reflect.Float64:
		var f float64
		tag := n.ShortTag()
		if n.Kind != yaml.ScalarNode || (tag != "!!int" && tag != "!!float") || n.Decode(&f) != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			d.fail(n, path, "must be a number, got %s", describe(n))
			return
		}
		v.SetFloat(f)
	default:
		// Only reachable if a field of an unsupported type is added to
		// Config; TestReference walks every field and would fail first.
		d.fail(n, path, "cannot decode into %s", v.Type())
	}
}

// movedKey says where a key that has a new place went: a file written
// for an older sluice gets an error that says so rather than "unknown".
func movedKey(path string) (string, bool) {
	switch path {
	case "rest.cors":
		return `the top-level "cors" block (one policy for REST, gRPC-Web and Connect)`, true
	}
	return "", false
}

func (d *decoder) decodeStruct(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.fail(n, path, "must be a mapping, got %s", describe(n))
		return
	}
	fields := fieldsOf(v.Type())
	seen := make(map[string]*yaml.Node)
	for _, p := range mappingPairs(n) {
		key := p.key
		if !d.tick(key, path) {
			return
		}
		if key.Kind != yaml.ScalarNode {
			d.fail(key, path, "keys must be strings, got a %s", kindName(key))
			continue
		}
		if path == "" && strings.HasPrefix(key.Value, "x-") {
			continue // a place for anchors, as in Compose files
		}
		sub := joinKey(path, key.Value)
		if first, dup := seen[key.Value]; dup {
			if !p.merged {
				d.fail(key, sub, "duplicate key (first at line %d)", first.Line)
			}
			continue // explicit keys override merged ones
		}
		seen[key.Value] = key
		f, ok := fields.byName(key.Value)
		if !ok {
			if to, moved := movedKey(sub); moved {
				d.fail(key, sub, "moved to %s", to)
				continue
			}
			d.fail(key, sub, "unknown key%s", fields.suggest(key.Value))
			continue
		}
		d.decode(p.value, v.FieldByIndex(f.index), sub)
	}
}

func (d *decoder) decodeSlice(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.SequenceNode {
		d.fail(n, path, "must be a list, got %s", describe(n))
		return
	}
	s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, item := range n.Content {
		elem := s.Index(i)
		if elem.Type() == reflect.TypeFor[Upstream]() {
			elem.Set(reflect.ValueOf(DefaultUpstream()))
		}
		d.decode(item, elem, path+"["+strconv.Itoa(i)+"]")
	}
	v.Set(s)
}

// pair is one key and value of a mapping; merged is true when the pair came
// from a merge key ("<<") rather than from the mapping itself.
type pair struct {
	key, value *yaml.Node
	merged     bool
}

// mappingPairs lists the pairs of mapping n: its own pairs first, in order,
// then those merged in through "<<" keys. Later duplicates lose. Each
// mapping is walked once, which bounds the work by the document size and
// stops self-references ("&a {<<: *a}").
func mappingPairs(n *yaml.Node) []pair {
	var own, merged []pair
	done := map[*yaml.Node]bool{}
	var walk func(m *yaml.Node, isMerged bool)
	walk = func(m *yaml.Node, isMerged bool) {
		if done[m] {
			return
		}
		done[m] = true
		var merges []*yaml.Node
		for i := 0; i+1 < len(m.Content); i += 2 {
			k, val := m.Content[i], m.Content[i+1]
			if k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" {
				merges = append(merges, val)
				continue
			}
			if isMerged {
				merged = append(merged, pair{k, val, true})
			} else {
				own = append(own, pair{k, val, false})
			}
		}
		for _, val := range merges {
			val = resolveAlias(val)
			switch val.Kind {
			case yaml.MappingNode:
				walk(val, true)
			case yaml.SequenceNode:
				for _, item := range val.Content {
					if item = resolveAlias(item); item.Kind == yaml.MappingNode {
						walk(item, true)
					}
				}
			}
		}
	}
	walk(n, false)
	return append(own, merged...)
}

// resolveAlias follows aliases to the node they name. yaml.v3 only creates
// aliases to anchors defined earlier, so the chain ends.
func resolveAlias(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

func joinKey(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func kindName(n *yaml.Node) string {
	switch resolveAlias(n).Kind {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "list"
	default:
		return "scalar"
	}
}

// describe renders a node for an error message: a scalar quoted, anything
// else by its kind.
func describe(n *yaml.Node) string {
	n = resolveAlias(n)
	if n.Kind != yaml.ScalarNode {
		return "a " + kindName(n)
	}
	v := n.Value
	if len(v) > 40 {
		v = v[:40] + "…"
	}
	return strconv.Quote(v)
}

func minInt(t reflect.Type) int64 { return -1 << (t.Bits() - 1) }
func maxInt(t reflect.Type) int64 { return 1<<(t.Bits()-1) - 1 }
func maxUint(t reflect.Type) uint64 {
	return math.MaxUint64 >> (64 - t.Bits())
}

// field is one yaml key of a struct.
type field struct {
	name  string
	doc   string
	kind  string // "path" for file names, from the kind tag
	index []int
	typ   reflect.Type
}

type fieldList []field

// fieldsOf lists the yaml keys of struct type t in declaration order.
func fieldsOf(t reflect.Type) fieldList {
	var fs fieldList
	for i := range t.NumField() {
		sf := t.Field(i)
		name, _, _ := strings.Cut(sf.Tag.Get("yaml"), ",")
		if !sf.IsExported() || name == "" || name == "-" {
			continue
		}
		fs = append(fs, field{name: name, doc: sf.Tag.Get("doc"), kind: sf.Tag.Get("kind"), index: sf.Index, typ: sf.Type})
	}
	return fs
}

func (fs fieldList) byName(name string) (field, bool) {
	for _, f := range fs {
		if f.name == name {
			return f, true
		}
	}
	return field{}, false
}

// suggest returns `; did you mean "x"?` for the closest known key, or ""
// when no key is close.
func (fs fieldList) suggest(key string) string {
	best, bestDist := "", 3 // at most two edits away
	for _, f := range fs {
		if d := editDistance(strings.ToLower(key), f.name); d < bestDist {
			best, bestDist = f.name, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf("; did you mean %q?", best)
}

// editDistance is the Levenshtein distance between a and b, on bytes; it
// gives up early on very long keys.
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return math.MaxInt
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
