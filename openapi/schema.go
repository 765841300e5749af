package openapi

import (
	"fmt"
	"sort"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

const (
	httpBodyName = "google.api.HttpBody"
	statusName   = "google.rpc.Status"
)

// schemas builds component schemas in the proto3 JSON mapping. Messages
// and enums become components named by their full proto name; well-known
// types with a special JSON form are written inline where they are used.
type schemas struct {
	cfg        *config
	components openapi3.Schemas
}

func componentRef(name protoreflect.FullName) string {
	return "#/components/schemas/" + string(name)
}

// jsonName is the name of fd in JSON objects and query parameters.
func (g *schemas) jsonName(fd protoreflect.FieldDescriptor) string {
	if g.cfg.protoNames {
		return string(fd.Name())
	}
	return fd.JSONName()
}

func types(t ...string) *openapi3.Types {
	ts := openapi3.Types(t)
	return &ts
}

func boolPtr(b bool) *bool { return &b }

// wellKnown returns the inline schema of a message with a special JSON
// form, or nil.
func wellKnown(name protoreflect.FullName) *openapi3.Schema {
	switch name {
	case "google.protobuf.Timestamp":
		return &openapi3.Schema{Type: types("string"), Format: "date-time",
			Description: "An RFC 3339 time in UTC, e.g. `2024-05-01T12:30:00Z`."}
	case "google.protobuf.Duration":
		return &openapi3.Schema{Type: types("string"), Pattern: `^-?[0-9]+(\.[0-9]{1,9})?s$`,
			Description: "A duration in seconds with an `s` suffix, e.g. `3.5s`."}
	case "google.protobuf.FieldMask":
		return &openapi3.Schema{Type: types("string"),
			Description: "Comma-separated field paths in lowerCamelCase, e.g. `title,readingTime`."}
	case "google.protobuf.Struct":
		return &openapi3.Schema{Type: types("object"), AdditionalProperties: openapi3.AdditionalProperties{Has: boolPtr(true)}}
	case "google.protobuf.Value":
		return &openapi3.Schema{} // any JSON value
	case "google.protobuf.ListValue":
		return &openapi3.Schema{Type: types("array"), Items: &openapi3.SchemaRef{Value: &openapi3.Schema{}}}
	case "google.protobuf.Empty":
		return &openapi3.Schema{Type: types("object")}
	case "google.protobuf.Any":
		return &openapi3.Schema{
			Type:                 types("object"),
			Description:          "A message of any type: `@type` names it (`type.googleapis.com/<full name>`), the other fields are its JSON form.",
			Properties:           openapi3.Schemas{"@type": {Value: &openapi3.Schema{Type: types("string")}}},
			Required:             []string{"@type"},
			AdditionalProperties: openapi3.AdditionalProperties{Has: boolPtr(true)},
		}
	case "google.protobuf.DoubleValue", "google.protobuf.FloatValue":
		return &openapi3.Schema{Type: types("number", "null")}
	case "google.protobuf.Int32Value":
		return &openapi3.Schema{Type: types("integer", "null"), Format: "int32"}
	case "google.protobuf.UInt32Value":
		return &openapi3.Schema{Type: types("integer", "null"), Format: "uint32"}
	case "google.protobuf.Int64Value":
		return &openapi3.Schema{Type: types("string", "null"), Format: "int64"}
	case "google.protobuf.UInt64Value":
		return &openapi3.Schema{Type: types("string", "null"), Format: "uint64"}
	case "google.protobuf.BoolValue":
		return &openapi3.Schema{Type: types("boolean", "null")}
	case "google.protobuf.StringValue":
		return &openapi3.Schema{Type: types("string", "null")}
	case "google.protobuf.BytesValue":
		return &openapi3.Schema{Type: types("string", "null"), Format: "byte", ContentEncoding: "base64"}
	}
	return nil
}

// message returns a reference to the schema of md, generating the
// component on first use, or md's inline schema for a well-known type.
func (g *schemas) message(md protoreflect.MessageDescriptor) *openapi3.SchemaRef {
	if s := wellKnown(md.FullName()); s != nil {
		return &openapi3.SchemaRef{Value: s}
	}
	name := string(md.FullName())
	if _, ok := g.components[name]; !ok {
		s := &openapi3.Schema{Type: types("object")}
		g.components[name] = &openapi3.SchemaRef{Value: s} // before the fields: messages may recurse
		g.fillMessage(s, md)
	}
	return &openapi3.SchemaRef{Ref: componentRef(md.FullName()), Value: g.components[name].Value}
}

func (g *schemas) fillMessage(s *openapi3.Schema, md protoreflect.MessageDescriptor) {
	desc := g.cfg.comment(md)
	fields := md.Fields()
	if fields.Len() > 0 {
		s.Properties = make(openapi3.Schemas, fields.Len())
	}
	for i := 0; i < fields.Len(); i++ {
		fd := fields.Get(i)
		name := g.jsonName(fd)
		s.Properties[name] = g.field(fd)
		if hasBehavior(fd, annotations.FieldBehavior_REQUIRED) {
			s.Required = append(s.Required, name)
		}
	}
	oneofs := md.Oneofs()
	for i := 0; i < oneofs.Len(); i++ {
		od := oneofs.Get(i)
		if od.IsSynthetic() {
			continue
		}
		var names []string
		for j := 0; j < od.Fields().Len(); j++ {
			names = append(names, "`"+g.jsonName(od.Fields().Get(j))+"`")
		}
		note := fmt.Sprintf("At most one of %s is set.", strings.Join(names, ", "))
		desc = strings.TrimSpace(desc + "\n\n" + note)
	}
	s.Description = desc
}

// field returns the schema of one field: repeated and map fields wrap the
// schema of their values; field comments and behaviours are added.
func (g *schemas) field(fd protoreflect.FieldDescriptor) *openapi3.SchemaRef {
	var ref *openapi3.SchemaRef
	switch {
	case fd.IsMap():
		ref = &openapi3.SchemaRef{Value: &openapi3.Schema{
			Type:                 types("object"),
			AdditionalProperties: openapi3.AdditionalProperties{Schema: g.single(fd.MapValue())},
		}}
	case fd.IsList():
		ref = &openapi3.SchemaRef{Value: &openapi3.Schema{Type: types("array"), Items: g.single(fd)}}
	case fd.Message() != nil:
		ref = nullable(g.single(fd))
	default:
		ref = g.single(fd)
	}
	desc := g.cfg.comment(fd)
	readOnly := hasBehavior(fd, annotations.FieldBehavior_OUTPUT_ONLY)
	writeOnly := hasBehavior(fd, annotations.FieldBehavior_INPUT_ONLY)
	if desc == "" && !readOnly && !writeOnly {
		return ref
	}
	if ref.Ref != "" {
		// A $ref with a description of its own: allOf keeps both and is
		// what documentation tools render well.
		ref = &openapi3.SchemaRef{Value: &openapi3.Schema{AllOf: openapi3.SchemaRefs{ref}}}
	}
	v := ref.Value
	if v.Description != "" && desc != "" {
		desc = desc + "\n\n" + v.Description
	}
	if desc != "" {
		v.Description = desc
	}
	v.ReadOnly = v.ReadOnly || readOnly
	v.WriteOnly = v.WriteOnly || writeOnly
	return ref
}

// nullable lets a singular message field be null as well: protojson writes
// an unset one as null when unpopulated fields are emitted (the REST
// default), and reads null as unset.
func nullable(ref *openapi3.SchemaRef) *openapi3.SchemaRef {
	if ref.Ref != "" {
		return &openapi3.SchemaRef{Value: &openapi3.Schema{AnyOf: openapi3.SchemaRefs{ref, {Value: &openapi3.Schema{Type: types("null")}}}}}
	}
	v := ref.Value // well-known types' schemas are new on every use
	if v.Type != nil && !v.Type.Includes("null") {
		v.Type = types(append(append([]string(nil), *v.Type...), "null")...)
	}
	return ref
}

// single returns the schema of one value of fd, ignoring repetition.
func (g *schemas) single(fd protoreflect.FieldDescriptor) *openapi3.SchemaRef {
	switch fd.Kind() {
	case protoreflect.MessageKind, protoreflect.GroupKind:
		return g.message(fd.Message())
	case protoreflect.EnumKind:
		return g.enum(fd.Enum())
	}
	return &openapi3.SchemaRef{Value: scalar(fd.Kind())}
}

// scalar is the JSON form of a scalar kind: 64-bit integers are strings,
// bytes are base64.
func scalar(k protoreflect.Kind) *openapi3.Schema {
	switch k {
	case protoreflect.BoolKind:
		return &openapi3.Schema{Type: types("boolean")}
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return &openapi3.Schema{Type: types("integer"), Format: "int32"}
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return &openapi3.Schema{Type: types("integer"), Format: "uint32"}
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return &openapi3.Schema{Type: types("string"), Format: "int64"}
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return &openapi3.Schema{Type: types("string"), Format: "uint64"}
	case protoreflect.FloatKind:
		return &openapi3.Schema{Type: types("number"), Format: "float"}
	case protoreflect.DoubleKind:
		return &openapi3.Schema{Type: types("number"), Format: "double"}
	case protoreflect.BytesKind:
		return &openapi3.Schema{Type: types("string"), Format: "byte", ContentEncoding: "base64"}
	}
	return &openapi3.Schema{Type: types("string")}
}

// enum returns a reference to the component of ed: its value names (or
// numbers, WithEnumNumbers), with the values' comments as description.
func (g *schemas) enum(ed protoreflect.EnumDescriptor) *openapi3.SchemaRef {
	if ed.FullName() == "google.protobuf.NullValue" {
		return &openapi3.SchemaRef{Value: &openapi3.Schema{Type: types("null")}}
	}
	name := string(ed.FullName())
	if _, ok := g.components[name]; !ok {
		s := &openapi3.Schema{Type: types("string")}
		if g.cfg.enumNumbers {
			s.Type = types("integer")
			s.Format = "int32"
		}
		var lines []string
		values := ed.Values()
		for i := 0; i < values.Len(); i++ {
			v := values.Get(i)
			if g.cfg.enumNumbers {
				s.Enum = append(s.Enum, int(v.Number()))
			} else {
				s.Enum = append(s.Enum, string(v.Name()))
			}
			if c := g.cfg.comment(v); c != "" {
				lines = append(lines, fmt.Sprintf("- `%s` (%d): %s", v.Name(), v.Number(), strings.Join(strings.Fields(c), " ")))
			}
		}
		s.Description = g.cfg.comment(ed)
		if len(lines) > 0 {
			s.Description = strings.TrimSpace(s.Description + "\n\n" + strings.Join(lines, "\n"))
		}
		g.components[name] = &openapi3.SchemaRef{Value: s}
	}
	return &openapi3.SchemaRef{Ref: componentRef(ed.FullName()), Value: g.components[name].Value}
}

// withoutFields returns the schema of md without the named top-level
// properties: the body of a `body: "*"` binding whose path binds them.
func (g *schemas) withoutFields(md protoreflect.MessageDescriptor, drop map[string]bool) *openapi3.SchemaRef {
	ref := g.message(md)
	if len(drop) == 0 || ref.Ref == "" {
		return ref
	}
	base := g.components[string(md.FullName())].Value
	s := &openapi3.Schema{Type: base.Type, Description: base.Description, Properties: openapi3.Schemas{}}
	for name, p := range base.Properties {
		if !drop[name] {
			s.Properties[name] = p
		}
	}
	for _, r := range base.Required {
		if !drop[r] {
			s.Required = append(s.Required, r)
		}
	}
	return &openapi3.SchemaRef{Value: s}
}

// hasBehavior reports whether fd is annotated with the field behaviour b.
func hasBehavior(fd protoreflect.FieldDescriptor, b annotations.FieldBehavior) bool {
	opts := fd.Options()
	if opts == nil || !proto.HasExtension(opts, annotations.E_FieldBehavior) {
		return false
	}
	bs, _ := proto.GetExtension(opts, annotations.E_FieldBehavior).([]annotations.FieldBehavior)
	for _, x := range bs {
		if x == b {
			return true
		}
	}
	return false
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
