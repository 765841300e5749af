package transcoding

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// Query parameters and path variables are bound with the same text rules
// as grpc-gateway's runtime (PopulateQueryParameters, PopulateFieldFromPath)
// so that clients can switch gateways, but on protoreflect alone: the
// runtime resolves enums through the global registry and builds
// well-known types as generated Go types, which fails, or panics, on the
// dynamicpb messages of contracts that are only known by descriptor set.

// errUnknownParameter marks a query parameter that names no field.
var errUnknownParameter = errors.New("unknown query parameter")

// bindQuery sets the fields named by the query parameters q on m. A
// parameter whose field path starts with one of bound (fields the path or
// the body set) is skipped: the query never overrides them. When strict,
// such a parameter is an error, and so is one naming no field (wrapping
// errUnknownParameter); otherwise that one is ignored. Keys are visited in sorted order so that errors are
// deterministic.
func bindQuery(m protoreflect.Message, q url.Values, bound [][]string, strict bool) error {
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	seen := make(map[string]struct{}, len(q))
	for _, key := range keys {
		vals := q[key]
		fieldKey, mapKey := key, ""
		if strings.HasSuffix(key, "]") {
			if i := strings.LastIndexByte(key, '['); i >= 0 {
				fieldKey, mapKey = key[:i], key[i:]
				vals = append([]string{key[i+1 : len(key)-1]}, vals...)
			}
		}
		fds, err := resolveQueryPath(m.Descriptor(), strings.Split(fieldKey, "."))
		if err != nil {
			if errors.Is(err, errUnknownParameter) && !strict {
				continue
			}
			return err
		}
		names := make([]string, len(fds))
		for i, fd := range fds {
			names[i] = string(fd.Name())
		}
		if hasBoundPrefix(bound, names) {
			if strict {
				return fmt.Errorf("query parameter %q sets a field the path or the body binds", key)
			}
			continue
		}
		field := strings.Join(names, ".") + mapKey
		if _, dup := seen[field]; dup {
			return fmt.Errorf("duplicate field %q", field)
		}
		seen[field] = struct{}{}
		if err := setPath(m, fds, vals); err != nil {
			return err
		}
	}
	return nil
}

// resolveQueryPath resolves a parameter's dotted path, each element by
// proto name or JSON name.
func resolveQueryPath(md protoreflect.MessageDescriptor, path []string) ([]protoreflect.FieldDescriptor, error) {
	fds := make([]protoreflect.FieldDescriptor, 0, len(path))
	for i, name := range path {
		fields := md.Fields()
		fd := fields.ByTextName(name)
		if fd == nil {
			fd = fields.ByJSONName(name)
		}
		if fd == nil {
			return nil, fmt.Errorf("%w %q: %s has no field %q", errUnknownParameter, strings.Join(path, "."), md.FullName(), name)
		}
		fds = append(fds, fd)
		if i == len(path)-1 {
			break
		}
		if fd.Message() == nil || fd.IsList() || fd.IsMap() {
			return nil, fmt.Errorf("invalid path: %q is not a message", name)
		}
		md = fd.Message()
	}
	return fds, nil
}

// hasBoundPrefix reports whether one of bound is a prefix of path.
func hasBoundPrefix(bound [][]string, path []string) bool {
	for _, b := range bound {
		if len(b) <= len(path) && slices.Equal(b, path[:len(b)]) {
			return true
		}
	}
	return false
}

// pathValues is what a path variable bound to the field path fds sets: its
// value, or for a repeated field the value split at every comma, as
// grpc-gateway's generated handlers split it (runtime.Float32Slice and
// kin, after its default unescaping decoded the whole path, so "%2C"
// separates too): "1.5,-1.5" is two floats, "" one empty element.
func pathValues(fds []protoreflect.FieldDescriptor, value string) []string {
	if fds[len(fds)-1].IsList() {
		return strings.Split(value, ",")
	}
	return []string{value}
}

// setPathVariable binds the value of one path variable to the field path
// fds, worded as grpc-gateway's generated handlers word a value that does
// not parse: a top-level field is converted by the runtime's String,
// Int32, Enum, Float32Slice... functions, whose error is the parser's own
// ("strconv.ParseInt: ...", "TWO is not valid"); a nested one goes through
// runtime.PopulateFieldFromPath, which words it as a query parameter
// (`parsing field "ok": "MAYBE" is not a valid value`).
func setPathVariable(m protoreflect.Message, fds []protoreflect.FieldDescriptor, value string) error {
	err := setPath(m, fds, pathValues(fds, value))
	var pe *parseError
	if err == nil || len(fds) > 1 || !errors.As(err, &pe) {
		return err
	}
	var ee invalidEnumError
	if errors.As(pe.err, &ee) {
		return fmt.Errorf("%s is not valid", string(ee))
	}
	return pe.err
}

// parseError is a value that does not parse as its field's type, worded as
// grpc-gateway's runtime words it for a query parameter.
type parseError struct {
	field protoreflect.Name
	kind  string // "field", "list", "map key", "map value"
	err   error
}

func (e *parseError) Error() string { return fmt.Sprintf("parsing %s %q: %v", e.kind, e.field, e.err) }
func (e *parseError) Unwrap() error { return e.err }

// invalidEnumError is a value that names no value of an enum, by name or
// number.
type invalidEnumError string

func (e invalidEnumError) Error() string { return fmt.Sprintf("%q is not a valid value", string(e)) }

// setPath sets the field at the end of fds, creating the messages on the
// way. A list takes every value, a map exactly a key and a value, anything
// else exactly one value.
func setPath(m protoreflect.Message, fds []protoreflect.FieldDescriptor, vals []string) error {
	if len(vals) == 0 {
		return errors.New("no value provided")
	}
	for i, fd := range fds {
		if of := fd.ContainingOneof(); of != nil && !of.IsSynthetic() {
			if set := m.WhichOneof(of); set != nil && (fd.Message() == nil || set.FullName() != fd.FullName()) {
				return fmt.Errorf("field already set for oneof %q", of.FullName().Name())
			}
		}
		if i < len(fds)-1 {
			m = m.Mutable(fd).Message()
		}
	}
	fd := fds[len(fds)-1]
	switch {
	case fd.IsList():
		list := m.Mutable(fd).List()
		for _, s := range vals {
			v, err := parseValue(fd, s, list.NewElement)
			if err != nil {
				return &parseError{field: fd.Name(), kind: "list", err: err}
			}
			list.Append(v)
		}
		return nil
	case fd.IsMap():
		if len(vals) != 2 {
			return fmt.Errorf("more than one value provided for key %q in map %q", vals[0], fd.FullName())
		}
		mp := m.Mutable(fd).Map()
		k, err := parseValue(fd.MapKey(), vals[0], nil)
		if err != nil {
			return &parseError{field: fd.Name(), kind: "map key", err: err}
		}
		v, err := parseValue(fd.MapValue(), vals[1], mp.NewValue)
		if err != nil {
			return &parseError{field: fd.Name(), kind: "map value", err: err}
		}
		mp.Set(k.MapKey(), v)
		return nil
	}
	if len(vals) > 1 {
		return fmt.Errorf("too many values for field %q: %s", fd.Name(), strings.Join(vals, ", "))
	}
	v, err := parseValue(fd, vals[0], func() protoreflect.Value { return m.NewField(fd) })
	if err != nil {
		return &parseError{field: fd.Name(), kind: "field", err: err}
	}
	m.Set(fd, v)
	return nil
}

// parseValue parses the text form of one value of fd's kind. newMessage
// makes an empty message of the field's own type (generated or dynamic),
// for message-typed values.
func parseValue(fd protoreflect.FieldDescriptor, s string, newMessage func() protoreflect.Value) (protoreflect.Value, error) {
	switch fd.Kind() {
	case protoreflect.BoolKind:
		v, err := strconv.ParseBool(s)
		return protoreflect.ValueOfBool(v), err
	case protoreflect.EnumKind:
		ev := fd.Enum().Values().ByName(protoreflect.Name(s))
		if ev == nil {
			n, err := strconv.ParseInt(s, 10, 32)
			if err != nil {
				return protoreflect.Value{}, invalidEnumError(s)
			}
			if ev = fd.Enum().Values().ByNumber(protoreflect.EnumNumber(n)); ev == nil {
				return protoreflect.Value{}, invalidEnumError(s)
			}
		}
		return protoreflect.ValueOfEnum(ev.Number()), nil
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		v, err := strconv.ParseInt(s, 10, 32)
		return protoreflect.ValueOfInt32(int32(v)), err
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		v, err := strconv.ParseInt(s, 10, 64)
		return protoreflect.ValueOfInt64(v), err
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		v, err := strconv.ParseUint(s, 10, 32)
		return protoreflect.ValueOfUint32(uint32(v)), err
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		v, err := strconv.ParseUint(s, 10, 64)
		return protoreflect.ValueOfUint64(v), err
	case protoreflect.FloatKind:
		v, err := strconv.ParseFloat(s, 32)
		return protoreflect.ValueOfFloat32(float32(v)), err
	case protoreflect.DoubleKind:
		v, err := strconv.ParseFloat(s, 64)
		return protoreflect.ValueOfFloat64(v), err
	case protoreflect.StringKind:
		if !utf8.ValidString(s) {
			return protoreflect.Value{}, fmt.Errorf("%q is not valid UTF-8", s)
		}
		return protoreflect.ValueOfString(s), nil
	case protoreflect.BytesKind:
		v, err := runtime.Bytes(s)
		return protoreflect.ValueOfBytes(v), err
	case protoreflect.MessageKind, protoreflect.GroupKind:
		if newMessage == nil {
			return protoreflect.Value{}, fmt.Errorf("unsupported message type: %q", fd.Message().FullName())
		}
		wkt, err := parseWellKnown(fd.Message().FullName(), s)
		if err != nil {
			return protoreflect.Value{}, err
		}
		v := newMessage()
		if err := convertMessage(wkt, v.Message()); err != nil {
			return protoreflect.Value{}, err
		}
		return v, nil
	}
	return protoreflect.Value{}, fmt.Errorf("unsupported field kind %v", fd.Kind())
}

// convertMessage copies src into dst, which has the same full name but may
// be another Go type (dynamicpb): through the wire format.
func convertMessage(src proto.Message, dst protoreflect.Message) error {
	if dst.Type() == src.ProtoReflect().Type() {
		proto.Merge(dst.Interface(), src)
		return nil
	}
	b, err := proto.Marshal(src)
	if err != nil {
		return err
	}
	return proto.UnmarshalOptions{Merge: true}.Unmarshal(b, dst.Interface())
}

// parseWellKnown parses the text forms of the well-known types that a
// single query value or path segment can carry.
func parseWellKnown(name protoreflect.FullName, s string) (proto.Message, error) {
	switch name {
	case "google.protobuf.Timestamp":
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return nil, err
		}
		ts := timestamppb.New(t)
		if !ts.IsValid() {
			return nil, fmt.Errorf("%s before 0001-01-01", s)
		}
		return ts, nil
	case "google.protobuf.Duration":
		d, err := time.ParseDuration(s)
		if err != nil {
			return nil, err
		}
		return durationpb.New(d), nil
	case "google.protobuf.DoubleValue":
		v, err := strconv.ParseFloat(s, 64)
		return wrapperspb.Double(v), err
	case "google.protobuf.FloatValue":
		v, err := strconv.ParseFloat(s, 32)
		return wrapperspb.Float(float32(v)), err
	case "google.protobuf.Int64Value":
		v, err := strconv.ParseInt(s, 10, 64)
		return wrapperspb.Int64(v), err
	case "google.protobuf.Int32Value":
		v, err := strconv.ParseInt(s, 10, 32)
		return wrapperspb.Int32(int32(v)), err
	case "google.protobuf.UInt64Value":
		v, err := strconv.ParseUint(s, 10, 64)
		return wrapperspb.UInt64(v), err
	case "google.protobuf.UInt32Value":
		v, err := strconv.ParseUint(s, 10, 32)
		return wrapperspb.UInt32(uint32(v)), err
	case "google.protobuf.BoolValue":
		v, err := strconv.ParseBool(s)
		return wrapperspb.Bool(v), err
	case "google.protobuf.StringValue":
		return wrapperspb.String(s), nil
	case "google.protobuf.BytesValue":
		v, err := runtime.Bytes(s)
		return wrapperspb.Bytes(v), err
	case "google.protobuf.FieldMask":
		return &fieldmaskpb.FieldMask{Paths: strings.Split(s, ",")}, nil
	case "google.protobuf.Value":
		v := new(structpb.Value)
		return v, protojson.Unmarshal([]byte(s), v)
	case "google.protobuf.Struct":
		v := new(structpb.Struct)
		return v, protojson.Unmarshal([]byte(s), v)
	case "google.protobuf.Empty":
		if s != "" && s != "{}" {
			return nil, fmt.Errorf("expected an empty value or %q, got %q", "{}", s)
		}
		return new(emptypb.Empty), nil
	}
	return nil, fmt.Errorf("unsupported message type: %q", string(name))
}
