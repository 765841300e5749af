package transcoding

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/protobuf/reflect/protoreflect"
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
	bindings []*binding // served
	// unserved are the bindings that are not served: skipped, or shadowed
	// by a later identical template.
	unserved []Route
	// resolver resolves JSON types (Any, extensions, error details)
	// through the snapshot's contracts, then the linked types.
	resolver typeResolver
}

// RouteStatus says whether a binding is served.
type RouteStatus uint8

const (
	// RouteOK is a served binding.
	RouteOK RouteStatus = iota
	// RouteShadowed is a binding whose template matches exactly the same
	// paths, with the same HTTP method, as a binding declared later, which
	// is served instead (Route.Reason names it).
	RouteShadowed
	// RouteSkipped is a binding sluice cannot serve (Route.Reason says
	// why). Its method stays reachable over gRPC and by its other bindings.
	RouteSkipped
)

// Route describes one REST binding, for listings (`sluice routes`) and
// documentation.
type Route struct {
	// HTTPMethod is the HTTP method, or a custom pattern's kind.
	HTTPMethod string
	// Template is the path template in canonical form, or as written when
	// it does not parse.
	Template string
	// Method is the gRPC method path, "/pkg.Service/Method".
	Method string
	// Body is the rule's body: "", "*" or a field path ("payload" or
	// "payload.input_value").
	Body string
	// ResponseBody is the rule's response_body, or "".
	ResponseBody string
	// Source names the contract and the binding the route comes from.
	Source string
	// File is the .proto file that declares the method.
	File string
	// Status says whether the binding is served.
	Status RouteStatus
	// Reason says why a binding is not served: the binding that shadows it
	// (RouteShadowed) or what sluice cannot serve (RouteSkipped).
	Reason string
}

// StatusText returns the status column of `sluice routes`: "ok",
// "shadowed by <binding>" or "skipped: <reason>".
func (r Route) StatusText() string {
	switch r.Status {
	case RouteShadowed:
		return "shadowed by " + r.Reason
	case RouteSkipped:
		return "skipped: " + r.Reason
	}
	return "ok"
}

// Err returns nil for a served binding, and otherwise an error naming the
// binding, its method, its source (file included) and why it is not
// served.
func (r Route) Err() error {
	switch r.Status {
	case RouteShadowed:
		return fmt.Errorf("REST binding %s %s of %s is shadowed by %s: both match the same paths and the one declared later wins",
			r.HTTPMethod, r.Template, r.Source, r.Reason)
	case RouteSkipped:
		return fmt.Errorf("REST binding %s %s of %s is skipped: %s", r.HTTPMethod, r.Template, r.Source, r.Reason)
	}
	return nil
}

// bodyKind says where a request body goes.
type bodyKind uint8

const (
	bodyNone  bodyKind = iota // no body: query parameters bind the rest
	bodyAll                   // body: "*" (or none, for a client stream: see compileBinding)
	bodyField                 // body: "field"
)

// binding is one compiled HTTP rule: everything a request needs that can be
// worked out once, when the table is built.
type binding struct {
	method       *registry.Method
	httpMethod   string
	template     *httprule.Template
	index        int // 0 for the rule, i for its additional binding i
	in, out      protoreflect.MessageType
	vars         [][]protoreflect.FieldDescriptor // per template variable, the field path
	body         bodyKind
	bodyField    protoreflect.FieldDescriptor   // bodyField only: the field the body binds
	bodyParents  []protoreflect.FieldDescriptor // the message fields leading to bodyField ("payload" of "payload.input_value")
	bodyName     string
	respField    protoreflect.FieldDescriptor   // response_body, or nil
	respParents  []protoreflect.FieldDescriptor // the message fields leading to respField
	respName     string
	bound        [][]string                   // proto-name paths a query parameter may not set
	updateMask   protoreflect.FieldDescriptor // PATCH with a message body field: the request's one FieldMask field
	strict       bool
	rawRequest   bool // the request is google.api.HttpBody and the body is "*"
	rawBodyField bool // the body field is a google.api.HttpBody
	rawResponse  bool // the response (or response_body field) is google.api.HttpBody
}

const httpBodyName = "google.api.HttpBody"

// BuildRoutes compiles the google.api.http rules of every method in s.
//
// Loading never fails on one binding. A binding sluice cannot serve (a
// template that does not parse, a variable, body or response_body naming no
// suitable field, a GET rule with a body, nested additional_bindings) is
// skipped; its method stays reachable over gRPC. Of two bindings with the
// same HTTP method and the same template shape, the one declared later
// wins, as in grpc-gateway, where a later registration shadows an earlier
// one; "later" orders files by path, then follows declaration order in a
// file (services, methods, a rule before its additional_bindings). Every
// binding not served is listed by Routes.Problems and Routes.All.
//
// With WithStrictRoutes, any skipped or shadowed binding is an error
// instead: every one is reported, joined.
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
	// shadowedBy records, for each binding that lost a collision, the one
	// that beat it; that one may lose in turn to a third.
	shadowedBy := map[*binding]*binding{}
	var added []*binding
	for _, m := range declarationOrder(s.Methods()) {
		rule := m.HTTPRule
		if rule == nil {
			continue
		}
		name := string(m.Desc.FullName())
		file := m.Desc.ParentFile().Path()
		skip := func(r *annotations.HttpRule, source string, reason string) {
			method, path := ruleText(r)
			rt.unserved = append(rt.unserved, Route{
				HTTPMethod: method, Template: path, Method: m.Path, Body: r.GetBody(), ResponseBody: r.GetResponseBody(),
				Source: source, File: file, Status: RouteSkipped, Reason: reason,
			})
		}
		rules := []*annotations.HttpRule{rule}
		rules = append(rules, rule.GetAdditionalBindings()...)
		for i, r := range rules {
			source := bindingSource(m, i)
			if i > 0 && len(r.GetAdditionalBindings()) > 0 {
				skip(r, source, "an additional binding may not have additional_bindings of its own")
				for k, nested := range r.GetAdditionalBindings() {
					skip(nested, fmt.Sprintf("%s nested binding %d in %s (%s)", name, k+1, file, m.Source),
						"additional_bindings may nest only one level deep")
				}
				continue
			}
			bd, err := compileBinding(s, m, r, i, cfg.strict[m.Path])
			if err != nil {
				skip(r, source, strings.ReplaceAll(err.Error(), "\n", "; "))
				continue
			}
			if cfg.prefix != nil {
				if p := cfg.prefix(m.Path); p != "" {
					t, err := httprule.Parse(p + bd.template.String())
					if err != nil {
						skip(r, source, fmt.Sprintf("path prefix %q: %v", p, err))
						continue
					}
					bd.template = t
				}
			}
			// The method's name is enough for the router, which reports
			// conflicts to us only; it costs no memory per route.
			err = b.Add(httprule.Route{Method: bd.httpMethod, Template: bd.template, Value: bd, Source: name})
			var ce *httprule.ConflictError
			switch {
			case errors.As(err, &ce):
				shadowedBy[ce.Shadowed.Value.(*binding)] = bd
			case err != nil:
				skip(r, source, err.Error())
				continue
			}
			added = append(added, bd)
		}
	}
	for _, bd := range added {
		winner, lost := shadowedBy[bd]
		if !lost {
			rt.bindings = append(rt.bindings, bd)
			continue
		}
		for next, ok := shadowedBy[winner]; ok; next, ok = shadowedBy[winner] {
			winner = next
		}
		r := bd.route()
		r.Status, r.Reason = RouteShadowed, winner.httpMethod+" "+winner.template.String()+" of "+bindingSource(winner.method, winner.index)
		rt.unserved = append(rt.unserved, r)
	}
	if cfg.strictRoutes {
		if errs := rt.Problems(); len(errs) > 0 {
			return nil, errors.Join(errs...)
		}
	}
	rt.router = b.Build()
	return rt, nil
}

// bindingSource names binding i of m's rule (0 for the rule itself) and
// where it comes from. It is built when needed, for listings and errors,
// rather than kept with every binding.
func bindingSource(m *registry.Method, i int) string {
	name, file := string(m.Desc.FullName()), m.Desc.ParentFile().Path()
	if i == 0 {
		return name + " in " + file + " (" + m.Source + ")"
	}
	return name + " additional binding " + strconv.Itoa(i) + " in " + file + " (" + m.Source + ")"
}

// declarationOrder sorts methods by file path, then in the order their
// file declares them, which decides which of two identical bindings wins.
func declarationOrder(ms []*registry.Method) []*registry.Method {
	out := slices.Clone(ms)
	slices.SortStableFunc(out, func(a, b *registry.Method) int {
		if c := strings.Compare(a.Desc.ParentFile().Path(), b.Desc.ParentFile().Path()); c != 0 {
			return c
		}
		if c := a.Desc.Parent().Index() - b.Desc.Parent().Index(); c != 0 {
			return c
		}
		return a.Desc.Index() - b.Desc.Index()
	})
	return out
}

// ruleText returns a rule's HTTP method and path as written, for the
// listing of a binding that did not compile.
func ruleText(r *annotations.HttpRule) (method, path string) {
	switch p := r.GetPattern().(type) {
	case *annotations.HttpRule_Get:
		return "GET", p.Get
	case *annotations.HttpRule_Put:
		return "PUT", p.Put
	case *annotations.HttpRule_Post:
		return "POST", p.Post
	case *annotations.HttpRule_Delete:
		return "DELETE", p.Delete
	case *annotations.HttpRule_Patch:
		return "PATCH", p.Patch
	case *annotations.HttpRule_Custom:
		return p.Custom.GetKind(), p.Custom.GetPath()
	}
	return "-", "-"
}

func messageType(s *registry.Snapshot, md protoreflect.MessageDescriptor) protoreflect.MessageType {
	if mt, err := s.Types().FindMessageByName(md.FullName()); err == nil {
		return mt
	}
	return dynamicpb.NewMessageType(md)
}

func compileBinding(s *registry.Snapshot, m *registry.Method, rule *annotations.HttpRule, index int, strict bool) (*binding, error) {
	httpMethod, tmpl, err := httprule.ParseRule(rule)
	if err != nil {
		return nil, err
	}
	in, out := m.Desc.Input(), m.Desc.Output()
	bd := &binding{
		method:     m,
		httpMethod: httpMethod,
		template:   tmpl,
		index:      index,
		in:         messageType(s, in),
		out:        messageType(s, out),
		strict:     strict,
		bodyName:   rule.GetBody(),
		respName:   rule.GetResponseBody(),
	}
	var errs []error
	vars := tmpl.Variables()
	if len(vars) > 0 {
		// Exact sizes: the table keeps every binding as long as it serves.
		bd.vars = make([][]protoreflect.FieldDescriptor, 0, len(vars))
		bd.bound = make([][]string, 0, len(vars)+1)
	}
	for _, v := range vars {
		fds, err := fieldPath(in, v.FieldPath)
		if err != nil {
			errs = append(errs, fmt.Errorf("template %s: variable %s: %w", tmpl, strings.Join(v.FieldPath, "."), err))
			continue
		}
		last := fds[len(fds)-1]
		// A repeated scalar (or enum) field takes a comma-separated list,
		// as grpc-gateway's generated handlers bind it (see pathValues).
		if last.IsMap() || (last.IsList() && last.Message() != nil) ||
			(last.Message() != nil && !ScalarMessage(last.Message().FullName())) {
			errs = append(errs, fmt.Errorf("template %s: variable %s: field %s is not a scalar field", tmpl, strings.Join(v.FieldPath, "."), last.FullName()))
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
		// A field path: "payload" or, nested, "payload.input_value"
		// (every element but the last a singular message field).
		bd.body = bodyField
		path := strings.Split(body, ".")
		fds, err := fieldPath(in, path)
		if err != nil {
			errs = append(errs, fmt.Errorf("body %q: %w", body, err))
			break
		}
		fd := fds[len(fds)-1]
		bd.bodyField, bd.bodyParents = fd, fds[:len(fds)-1]
		bd.bound = append(bd.bound, path)
		bd.rawBodyField = !fd.IsList() && fd.Message() != nil && fd.Message().FullName() == httpBodyName
	}
	if bd.body == bodyNone && m.Desc.IsStreamingClient() && httpMethod != "GET" {
		// A client stream's messages can only come in the body: with no
		// body rule, each JSON value of the body is one whole message,
		// as grpc-gateway's handlers read it whatever the rule says.
		// Built from the path and query alone, the call would carry one
		// message however many the client sent.
		bd.body = bodyAll
		bd.rawRequest = in.FullName() == httpBodyName
	}
	if bd.body != bodyNone && httpMethod == "GET" {
		errs = append(errs, fmt.Errorf("a GET binding may not have a body (body %q)", rule.GetBody()))
	}
	if rb := rule.GetResponseBody(); rb != "" && rb != "*" {
		// As grpc-gateway: "*" is the whole response, and a field path
		// may descend into singular message fields.
		if fds, err := fieldPath(out, strings.Split(rb, ".")); err != nil {
			errs = append(errs, fmt.Errorf("response_body %q: %w", rb, err))
		} else {
			fd := fds[len(fds)-1]
			bd.respField, bd.respParents = fd, fds[:len(fds)-1]
			bd.rawResponse = !fd.IsList() && fd.Message() != nil && fd.Message().FullName() == httpBodyName
		}
	} else {
		bd.rawResponse = out.FullName() == httpBodyName
	}
	if httpMethod == "PATCH" && bd.body == bodyField && bd.bodyField != nil && bd.bodyField.Message() != nil &&
		!bd.bodyField.IsList() && !bd.bodyField.IsMap() && !bd.rawBodyField {
		bd.updateMask = onlyFieldMask(in)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return bd, nil
}

// onlyFieldMask returns the one top-level google.protobuf.FieldMask field
// of md, whatever its name, or nil when it has none or several: the field
// grpc-gateway's generated PATCH handlers fill from the body's keys.
func onlyFieldMask(md protoreflect.MessageDescriptor) protoreflect.FieldDescriptor {
	var found protoreflect.FieldDescriptor
	fields := md.Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		if fd.Message() == nil || fd.Message().FullName() != "google.protobuf.FieldMask" {
			continue
		}
		if found != nil {
			return nil
		}
		found = fd
	}
	if found != nil && (found.IsList() || found.IsMap()) {
		return nil
	}
	return found
}

// fieldPath resolves a dotted path of proto field names from md. Every
// element but the last must be a singular message field.
func fieldPath(md protoreflect.MessageDescriptor, path []string) ([]protoreflect.FieldDescriptor, error) {
	fds := make([]protoreflect.FieldDescriptor, 0, len(path))
	for i, name := range path {
		fd := fieldByName(md.Fields(), protoreflect.Name(name))
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

// fieldByName finds a field by scanning the fields in order. Building
// routes looks up a few fields of every request message once; ByName would
// make a message's four field indexes (by name, JSON name, text name and
// number) for that, kept as long as its descriptor: 16 MiB for Google's
// APIs, for messages most of which no request may ever use.
func fieldByName(fields protoreflect.FieldDescriptors, name protoreflect.Name) protoreflect.FieldDescriptor {
	for i := range fields.Len() {
		if fd := fields.Get(i); fd.Name() == name {
			return fd
		}
	}
	return nil
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

// Serves reports whether a route takes requests of the HTTP method verb
// on path (escaped, as the request has it). It is false on a nil table.
func (r *Routes) Serves(verb, path string) bool {
	if r == nil || r.router == nil {
		return false
	}
	_, res := r.router.Match(verb, path)
	return res == httprule.Found
}

// List returns every served route, sorted by template then HTTP method.
func (r *Routes) List() []Route {
	out := make([]Route, 0, len(r.bindings))
	for _, b := range r.bindings {
		out = append(out, b.route())
	}
	sortRoutes(out)
	return out
}

// All returns every binding of the contracts, one each, served or not,
// sorted by template, HTTP method, then status and source: the rows of
// `sluice routes`.
func (r *Routes) All() []Route {
	out := make([]Route, 0, len(r.bindings)+len(r.unserved))
	for _, b := range r.bindings {
		out = append(out, b.route())
	}
	out = append(out, r.unserved...)
	sortRoutes(out)
	return out
}

// Problems returns one error per binding that is not served (see
// Route.Err), in the order of All.
func (r *Routes) Problems() []error {
	rows := slices.Clone(r.unserved)
	sortRoutes(rows)
	errs := make([]error, 0, len(rows))
	for _, row := range rows {
		errs = append(errs, row.Err())
	}
	return errs
}

// route is the listing of a compiled binding.
func (b *binding) route() Route {
	return Route{
		HTTPMethod:   b.httpMethod,
		Template:     b.template.String(),
		Method:       b.method.Path,
		Body:         b.bodyName,
		ResponseBody: b.respName,
		Source:       bindingSource(b.method, b.index),
		File:         b.method.Desc.ParentFile().Path(),
	}
}

func sortRoutes(rs []Route) {
	slices.SortStableFunc(rs, func(a, b Route) int {
		if c := strings.Compare(a.Template, b.Template); c != 0 {
			return c
		}
		if c := strings.Compare(a.HTTPMethod, b.HTTPMethod); c != 0 {
			return c
		}
		if c := int(a.Status) - int(b.Status); c != 0 {
			return c
		}
		return strings.Compare(a.Source, b.Source)
	})
}
