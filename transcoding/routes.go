package transcoding

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/sluice-dev/sluice/registry"
	"github.com/sluice-dev/sluice/transcoding/httprule"
)

// Routes is the REST route table of one registry.Snapshot: every
// google.api.http binding (additional_bindings included) of every method,
// compiled into a route trie. It is immutable and safe for concurrent use.
// Build a new one when the snapshot changes; calls keep the table they
// started with.
type Routes struct {
	snap     *registry.Snapshot
	router   *httprule.Router
	bindings []*binding
	// resolver resolves JSON types (Any, extensions, error details)
	// through the snapshot's contracts, then the linked types.
	resolver typeResolver
}

// Route describes one REST binding, for listings (`sluice routes`) and
// documentation.
type Route struct {
	// HTTPMethod is the HTTP method, or a custom pattern's kind.
	HTTPMethod string
	// Template is the path template in canonical form.
	Template string
	// Method is the gRPC method path, "/pkg.Service/Method".
	Method string
	// Body is the rule's body: "", "*" or a top-level field name.
	Body string
	// ResponseBody is the rule's response_body, or "".
	ResponseBody string
	// Source names the contract and the binding the route comes from.
	Source string
}

// bodyKind says where a request body goes.
type bodyKind uint8

const (
	bodyNone  bodyKind = iota // no body: query parameters bind the rest
	bodyAll                   // body: "*"
	bodyField                 // body: "field"
)

// binding is one compiled HTTP rule: everything a request needs that can be
// worked out once, when the table is built.
type binding struct {
	method       *registry.Method
	httpMethod   string
	template     *httprule.Template
	source       string
	in, out      protoreflect.MessageType
	vars         [][]protoreflect.FieldDescriptor // per template variable, the field path
	body         bodyKind
	bodyField    protoreflect.FieldDescriptor // bodyField only
	bodyName     string
	respField    protoreflect.FieldDescriptor // response_body, or nil
	respName     string
	bound        [][]string                   // proto-name paths a query parameter may not set
	updateMask   protoreflect.FieldDescriptor // PATCH with a body field and an update_mask FieldMask
	strict       bool
	rawRequest   bool // the request is google.api.HttpBody and the body is "*"
	rawBodyField bool // the body field is a google.api.HttpBody
	rawResponse  bool // the response (or response_body field) is google.api.HttpBody
}

const httpBodyName = "google.api.HttpBody"

// BuildRoutes compiles the google.api.http rules of every method in s.
// Every problem is reported, joined, each naming its method: a template
// that does not parse, a variable, body or response_body naming no
// suitable field, a GET rule with a body, nested additional_bindings, and
// two bindings with the same HTTP method and the same template shape (the
// error names both sources).
func BuildRoutes(s *registry.Snapshot, opts ...RouteOption) (*Routes, error) {
	if s == nil {
		return nil, errors.New("build routes: nil snapshot")
	}
	var cfg routeConfig
	for _, o := range opts {
		o.applyRoute(&cfg)
	}
	var bopts []httprule.Option
	if cfg.fullyDecode {
		bopts = append(bopts, httprule.WithFullyDecodeReservedExpansion())
	}
	b := httprule.NewBuilder(bopts...)
	rt := &Routes{snap: s, resolver: withLinkedTypes(s.Types())}
	var errs []error
	for _, m := range s.Methods() {
		rule := httpRule(m.Desc)
		if rule == nil {
			continue
		}
		name := string(m.Desc.FullName())
		file := m.Desc.ParentFile().Path()
		rules := []*annotations.HttpRule{rule}
		for i, extra := range rule.GetAdditionalBindings() {
			if len(extra.GetAdditionalBindings()) > 0 {
				errs = append(errs, fmt.Errorf("method %s (%s): additional binding %d has additional_bindings of its own; they may not nest", name, file, i+1))
				continue
			}
			rules = append(rules, extra)
		}
		for i, r := range rules {
			source := fmt.Sprintf("%s in %s (%s)", name, file, m.Source)
			if i > 0 {
				source = fmt.Sprintf("%s additional binding %d in %s (%s)", name, i, file, m.Source)
			}
			bd, err := compileBinding(s, m, r, source, cfg.strict[m.Path])
			if err != nil {
				errs = append(errs, fmt.Errorf("method %s (%s): %w", name, file, err))
				continue
			}
			if err := b.Add(httprule.Route{Method: bd.httpMethod, Template: bd.template, Value: bd, Source: source}); err != nil {
				errs = append(errs, err)
				continue
			}
			rt.bindings = append(rt.bindings, bd)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	rt.router = b.Build()
	return rt, nil
}

// httpRule returns the method's google.api.http option, or nil. Options
// read from a descriptor set before the extension was known keep it as
// unknown fields; it is parsed from them then.
func httpRule(md protoreflect.MethodDescriptor) *annotations.HttpRule {
	opts, ok := md.Options().(*descriptorpb.MethodOptions)
	if !ok || opts == nil {
		return nil
	}
	if proto.HasExtension(opts, annotations.E_Http) {
		r, _ := proto.GetExtension(opts, annotations.E_Http).(*annotations.HttpRule)
		return r
	}
	if len(opts.ProtoReflect().GetUnknown()) == 0 {
		return nil
	}
	raw, err := proto.Marshal(opts)
	if err != nil {
		return nil
	}
	parsed := new(descriptorpb.MethodOptions)
	if err := proto.Unmarshal(raw, parsed); err != nil || !proto.HasExtension(parsed, annotations.E_Http) {
		return nil
	}
	r, _ := proto.GetExtension(parsed, annotations.E_Http).(*annotations.HttpRule)
	return r
}

func messageType(s *registry.Snapshot, md protoreflect.MessageDescriptor) protoreflect.MessageType {
	if mt, err := s.Types().FindMessageByName(md.FullName()); err == nil {
		return mt
	}
	return dynamicpb.NewMessageType(md)
}

func compileBinding(s *registry.Snapshot, m *registry.Method, rule *annotations.HttpRule, source string, strict bool) (*binding, error) {
	httpMethod, tmpl, err := httprule.ParseRule(rule)
	if err != nil {
		return nil, err
	}
	in, out := m.Desc.Input(), m.Desc.Output()
	bd := &binding{
		method:     m,
		httpMethod: httpMethod,
		template:   tmpl,
		source:     source,
		in:         messageType(s, in),
		out:        messageType(s, out),
		strict:     strict,
		bodyName:   rule.GetBody(),
		respName:   rule.GetResponseBody(),
	}
	var errs []error
	for _, v := range tmpl.Variables() {
		fds, err := fieldPath(in, v.FieldPath)
		if err != nil {
			errs = append(errs, fmt.Errorf("template %s: variable %s: %w", tmpl, strings.Join(v.FieldPath, "."), err))
			continue
		}
		last := fds[len(fds)-1]
		if last.IsList() || last.IsMap() || (last.Message() != nil && !ScalarMessage(last.Message().FullName())) {
			errs = append(errs, fmt.Errorf("template %s: variable %s: field %s is not a singular scalar field", tmpl, strings.Join(v.FieldPath, "."), last.FullName()))
			continue
		}
		bd.vars = append(bd.vars, fds)
		bd.bound = append(bd.bound, v.FieldPath)
	}
	switch body := rule.GetBody(); body {
	case "":
	case "*":
		bd.body = bodyAll
		bd.rawRequest = in.FullName() == httpBodyName
	default:
		bd.body = bodyField
		fd := in.Fields().ByName(protoreflect.Name(body))
		if fd == nil {
			errs = append(errs, fmt.Errorf("body %q: %s has no such top-level field", body, in.FullName()))
			break
		}
		bd.bodyField = fd
		bd.bound = append(bd.bound, []string{body})
		bd.rawBodyField = !fd.IsList() && fd.Message() != nil && fd.Message().FullName() == httpBodyName
	}
	if bd.body != bodyNone && httpMethod == "GET" {
		errs = append(errs, fmt.Errorf("a GET binding may not have a body (body %q)", rule.GetBody()))
	}
	if rb := rule.GetResponseBody(); rb != "" {
		fd := out.Fields().ByName(protoreflect.Name(rb))
		if fd == nil {
			errs = append(errs, fmt.Errorf("response_body %q: %s has no such top-level field", rb, out.FullName()))
		} else {
			bd.respField = fd
			bd.rawResponse = !fd.IsList() && fd.Message() != nil && fd.Message().FullName() == httpBodyName
		}
	} else {
		bd.rawResponse = out.FullName() == httpBodyName
	}
	if httpMethod == "PATCH" && bd.body == bodyField && bd.bodyField != nil && bd.bodyField.Message() != nil && !bd.rawBodyField {
		if fd := in.Fields().ByName("update_mask"); fd != nil && !fd.IsList() && fd.Message() != nil &&
			fd.Message().FullName() == "google.protobuf.FieldMask" {
			bd.updateMask = fd
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return bd, nil
}

// fieldPath resolves a dotted path of proto field names from md. Every
// element but the last must be a singular message field.
func fieldPath(md protoreflect.MessageDescriptor, path []string) ([]protoreflect.FieldDescriptor, error) {
	fds := make([]protoreflect.FieldDescriptor, 0, len(path))
	for i, name := range path {
		fd := md.Fields().ByName(protoreflect.Name(name))
		if fd == nil {
			return nil, fmt.Errorf("%s has no field %q", md.FullName(), name)
		}
		fds = append(fds, fd)
		if i == len(path)-1 {
			break
		}
		if fd.Message() == nil || fd.IsList() || fd.IsMap() {
			return nil, fmt.Errorf("field %s is not a singular message, so %q cannot follow it", fd.FullName(), path[i+1])
		}
		md = fd.Message()
	}
	return fds, nil
}

// ScalarMessage reports whether a message type has a one-string text form
// that a path variable or query parameter can carry: the well-known types
// whose JSON form is a string or a nullable scalar (Timestamp, Duration,
// FieldMask, wrappers). OpenAPI generation describes them the same way.
func ScalarMessage(name protoreflect.FullName) bool {
	switch name {
	case "google.protobuf.Timestamp", "google.protobuf.Duration", "google.protobuf.FieldMask",
		"google.protobuf.DoubleValue", "google.protobuf.FloatValue",
		"google.protobuf.Int64Value", "google.protobuf.Int32Value",
		"google.protobuf.UInt64Value", "google.protobuf.UInt32Value",
		"google.protobuf.BoolValue", "google.protobuf.StringValue", "google.protobuf.BytesValue":
		return true
	}
	return false
}

// Snapshot returns the snapshot the table was built from.
func (r *Routes) Snapshot() *registry.Snapshot { return r.snap }

// List returns every route, sorted by template then HTTP method.
func (r *Routes) List() []Route {
	out := make([]Route, 0, len(r.bindings))
	for _, b := range r.bindings {
		out = append(out, Route{
			HTTPMethod:   b.httpMethod,
			Template:     b.template.String(),
			Method:       b.method.Path,
			Body:         b.bodyName,
			ResponseBody: b.respName,
			Source:       b.source,
		})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Template != out[j].Template {
			return out[i].Template < out[j].Template
		}
		return out[i].HTTPMethod < out[j].HTTPMethod
	})
	return out
}
