package openapi

import (
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"google.golang.org/genproto/googleapis/api/annotations"
	statuspb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/sluice-dev/sluice/registry"
	"github.com/sluice-dev/sluice/transcoding"
	"github.com/sluice-dev/sluice/transcoding/httprule"
)

// Version is the OpenAPI version of generated documents.
const Version = "3.1.0"

// Generate builds the OpenAPI 3.1 document of every REST route of s: one
// operation per google.api.http binding (additional bindings included),
// with path and query parameters (maps as deepObject), the request body
// the rule selects, the response (honouring response_body;
// google.api.HttpBody as raw bytes of any type; server streams in each
// format a client may ask for by Accept), errors as google.rpc.Status and
// the security requirements of WithSecurity. Bindings no call can succeed
// on (denied methods, methods WithRouted says no upstream serves) are
// left out, as are
// custom HTTP methods, which OpenAPI cannot express. Messages and enums become
// component schemas in the proto3 JSON mapping. Generate fails when the
// routes do not build (transcoding.BuildRoutes' error). The result is a
// new document owned by the caller.
func Generate(s *registry.Snapshot, opts ...Option) (*openapi3.T, error) {
	if s == nil {
		return nil, errors.New("openapi: nil snapshot")
	}
	// The snapshot's own comments first; options may add more.
	cfg := newConfig(append([]Option{WithSourceInfo(s.CommentedFiles()...)}, opts...))
	routes, err := transcoding.BuildRoutes(s, cfg.routeOpts...)
	if err != nil {
		return nil, fmt.Errorf("openapi: %w", err)
	}
	g := &generator{
		cfg:     cfg,
		snap:    s,
		schemas: &schemas{cfg: cfg, components: openapi3.Schemas{}},
		shapes:  map[string][]string{},
		opIDs:   map[string]int{},
	}
	version := cfg.version
	if version == "" {
		fp := registry.Fingerprint(s)
		version = "contracts-" + hex.EncodeToString(fp[:6])
	}
	doc := &openapi3.T{
		OpenAPI: Version,
		Info: &openapi3.Info{
			Title:       cfg.title,
			Version:     version,
			Description: cfg.description,
		},
		Paths:      openapi3.NewPaths(),
		Components: &openapi3.Components{Schemas: g.schemas.components},
	}
	for _, sv := range cfg.servers {
		server := &openapi3.Server{URL: sv.URL, Description: sv.Description}
		for _, name := range sortedKeys(sv.Variables) {
			if server.Variables == nil {
				server.Variables = map[string]*openapi3.ServerVariable{}
			}
			server.Variables[name] = &openapi3.ServerVariable{Default: sv.Variables[name]}
		}
		doc.Servers = append(doc.Servers, server)
	}
	doc.Components.SecuritySchemes = cfg.securitySchemes()
	if len(doc.Components.SecuritySchemes) == 0 {
		// Open to anyone: an empty requirement, stated once.
		doc.Security = openapi3.SecurityRequirements{{}}
	}
	g.status = g.schemas.message(g.statusDescriptor())

	tags := map[string]string{}
	for _, r := range routes.List() {
		m, ok := s.Method(r.Method)
		if !ok {
			continue // cannot happen: the routes come from s
		}
		if !standardMethod(r.HTTPMethod) {
			continue // OpenAPI 3.1 has no custom HTTP methods
		}
		if cfg.routed != nil && !cfg.routed(m.Path) {
			continue // no upstream: every call answers 501
		}
		security, callable := cfg.security(m.Path)
		if !callable {
			continue // every call is refused
		}
		tmpl, err := httprule.Parse(r.Template)
		if err != nil {
			return nil, fmt.Errorf("openapi: route %s %s: %w", r.HTTPMethod, r.Template, err)
		}
		path, params := g.pathParams(tmpl, m.Desc.Input())
		op := g.operation(m, r, tmpl, params)
		if len(doc.Components.SecuritySchemes) > 0 {
			op.Security = &security
		}
		item := doc.Paths.Value(path)
		if item == nil {
			item = &openapi3.PathItem{}
			doc.Paths.Set(path, item)
		}
		item.SetOperation(r.HTTPMethod, op)
		svc := m.Desc.Parent().(protoreflect.ServiceDescriptor)
		tags[g.tag(svc)] = g.cfg.comment(svc)
	}
	for _, name := range sortedKeys(tags) {
		doc.Tags = append(doc.Tags, &openapi3.Tag{Name: name, Description: tags[name]})
	}
	return doc, nil
}

func standardMethod(m string) bool {
	switch m {
	case http.MethodGet, http.MethodPut, http.MethodPost, http.MethodDelete,
		http.MethodPatch, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return true
	}
	return false
}

type generator struct {
	cfg     *config
	snap    *registry.Snapshot
	schemas *schemas
	status  *openapi3.SchemaRef
	// shapes holds the parameter names chosen for each template shape, so
	// templates of one shape share one OpenAPI path.
	shapes map[string][]string
	opIDs  map[string]int
}

// statusDescriptor is google.rpc.Status from the contracts, or the one
// linked into the binary when no contract imports it.
func (g *generator) statusDescriptor() protoreflect.MessageDescriptor {
	if d, err := g.snap.Files().FindDescriptorByName(statusName); err == nil {
		if md, ok := d.(protoreflect.MessageDescriptor); ok {
			return md
		}
	}
	return (&statuspb.Status{}).ProtoReflect().Descriptor()
}

// tag is the tag of a service: its name, or its full name when two
// services of the snapshot share the name.
func (g *generator) tag(svc protoreflect.ServiceDescriptor) string {
	for _, other := range g.snap.Services() {
		if other != string(svc.FullName()) && protoreflect.FullName(other).Name() == svc.Name() {
			return string(svc.FullName())
		}
	}
	return string(svc.Name())
}

// pathParam is one OpenAPI path parameter: the wildcard segment it stands
// for and the variable it is part of.
type pathParam struct {
	name    string
	segment int
	deep    bool
	v       httprule.Variable
	whole   bool // the variable is exactly this one segment
}

// pathParams turns a template into an OpenAPI path with one parameter per
// wildcard segment (see the package documentation).
func (g *generator) pathParams(tmpl *httprule.Template, in protoreflect.MessageDescriptor) (string, []pathParam) {
	segs := tmpl.Segments()
	varAt := map[int]httprule.Variable{}
	for _, v := range tmpl.Variables() {
		for i := v.Start; i < v.End; i++ {
			varAt[i] = v
		}
	}
	names, known := g.shapes[tmpl.Shape()]
	var params []pathParam
	used := map[string]int{}
	var b strings.Builder
	for i, seg := range segs {
		b.WriteByte('/')
		if seg.Kind == httprule.Literal {
			b.WriteString(seg.Literal)
			continue
		}
		v, inVar := varAt[i]
		p := pathParam{segment: i, deep: seg.Kind == httprule.DeepWildcard, v: v, whole: inVar && v.End-v.Start == 1}
		if len(params) < len(names) && known {
			p.name = names[len(params)]
		} else {
			p.name = g.paramName(segs, i, v, inVar, p.whole, in)
			if n := used[p.name]; n > 0 {
				used[p.name] = n + 1
				p.name = fmt.Sprintf("%s%d", p.name, n+1)
			} else {
				used[p.name] = 1
			}
		}
		params = append(params, p)
		b.WriteString("{" + p.name + "}")
	}
	if len(segs) == 0 {
		b.WriteByte('/')
	}
	if tmpl.Verb() != "" {
		b.WriteString(":" + tmpl.Verb())
	}
	if !known {
		for _, p := range params {
			names = append(names, p.name)
		}
		g.shapes[tmpl.Shape()] = names
	}
	return b.String(), params
}

// paramName names the parameter of wildcard segment i: the field's name
// when the variable is that one segment, else the literal segment before
// it with "Id" (`shelves/*` gives `shelvesId`), else the field's name.
func (g *generator) paramName(segs []httprule.Segment, i int, v httprule.Variable, inVar, whole bool, in protoreflect.MessageDescriptor) string {
	field := g.fieldPathName(in, v.FieldPath)
	if !inVar {
		field = "param" // a wildcard outside any variable binds nothing
	}
	if whole || i == 0 || segs[i-1].Kind != httprule.Literal {
		return field
	}
	var b strings.Builder
	for _, r := range segs[i-1].Literal {
		if r < 128 && (r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			b.WriteRune(r)
		}
	}
	if b.Len() == 0 {
		return field
	}
	return b.String() + "Id"
}

// fieldPathName is a dotted field path in JSON names (or proto names).
func (g *generator) fieldPathName(md protoreflect.MessageDescriptor, path []string) string {
	names := make([]string, 0, len(path))
	for _, p := range path {
		var fd protoreflect.FieldDescriptor
		if md != nil {
			fd = md.Fields().ByName(protoreflect.Name(p))
		}
		if fd == nil {
			names = append(names, p)
			md = nil
			continue
		}
		names = append(names, g.schemas.jsonName(fd))
		md = fd.Message()
	}
	return strings.Join(names, ".")
}

// fieldAt resolves a proto-name field path.
func fieldAt(md protoreflect.MessageDescriptor, path []string) protoreflect.FieldDescriptor {
	var fd protoreflect.FieldDescriptor
	for _, p := range path {
		if md == nil {
			return nil
		}
		fd = md.Fields().ByName(protoreflect.Name(p))
		if fd == nil {
			return nil
		}
		md = fd.Message()
	}
	return fd
}

func (g *generator) operationID(m *registry.Method) string {
	svc := m.Desc.Parent().(protoreflect.ServiceDescriptor)
	id := g.tag(svc) + "_" + string(m.Desc.Name())
	g.opIDs[id]++
	if n := g.opIDs[id]; n > 1 {
		id = fmt.Sprintf("%s_%d", id, n)
	}
	return id
}

func (g *generator) operation(m *registry.Method, r transcoding.Route, tmpl *httprule.Template, params []pathParam) *openapi3.Operation {
	in, out := m.Desc.Input(), m.Desc.Output()
	desc := g.cfg.comment(m.Desc)
	op := &openapi3.Operation{
		OperationID: g.operationID(m),
		Tags:        []string{g.tag(m.Desc.Parent().(protoreflect.ServiceDescriptor))},
		Summary:     summary(desc),
		Description: desc,
		Extensions:  map[string]any{"x-sluice-grpc-method": m.Path},
		Responses:   openapi3.NewResponses(),
	}
	if m.Kind() != "unary" {
		op.Extensions["x-sluice-streaming"] = m.Kind()
	}

	// Path parameters.
	var bound [][]string
	for _, v := range tmpl.Variables() {
		bound = append(bound, v.FieldPath)
	}
	for _, p := range params {
		op.Parameters = append(op.Parameters, &openapi3.ParameterRef{Value: g.pathParameter(p, tmpl, params, in)})
	}

	// Body and query parameters. A client stream whose rule names no body
	// is served as `body: "*"`: its messages are the body's JSON values.
	body := r.Body
	if body == "" && m.ClientStreaming() {
		body = "*"
	}
	switch body {
	case "":
		op.Parameters = append(op.Parameters, g.queryParams(in, nil, "", bound, map[protoreflect.FullName]bool{})...)
	case "*":
		drop := map[string]bool{}
		for _, b := range bound {
			if len(b) == 1 {
				if fd := in.Fields().ByName(protoreflect.Name(b[0])); fd != nil {
					drop[g.schemas.jsonName(fd)] = true
				}
			}
		}
		if in.FullName() == httpBodyName {
			op.RequestBody = rawBody(g.cfg.comment(in))
		} else {
			op.RequestBody = g.jsonBody(g.schemas.withoutFields(in, drop), "", m.ClientStreaming())
		}
	default:
		fd := fieldAt(in, strings.Split(body, "."))
		if fd != nil {
			if !fd.IsList() && fd.Message() != nil && fd.Message().FullName() == httpBodyName {
				op.RequestBody = rawBody(g.cfg.comment(fd))
			} else {
				op.RequestBody = g.jsonBody(g.schemas.field(fd), g.cfg.comment(fd), m.ClientStreaming())
			}
		}
		op.Parameters = append(op.Parameters, g.queryParams(in, nil, "", append(bound, strings.Split(body, ".")), map[protoreflect.FullName]bool{})...)
	}

	// Responses.
	var resp *openapi3.SchemaRef
	raw := false
	respDesc := g.cfg.comment(out)
	if r.ResponseBody != "" {
		if fd := fieldAt(out, strings.Split(r.ResponseBody, ".")); fd != nil {
			raw = !fd.IsList() && fd.Message() != nil && fd.Message().FullName() == httpBodyName
			resp = g.schemas.field(fd)
			if c := g.cfg.comment(fd); c != "" {
				respDesc = c
			}
		}
	} else {
		raw = out.FullName() == httpBodyName
		resp = g.schemas.message(out)
	}
	if respDesc == "" {
		respDesc = "OK"
	}
	ok := &openapi3.Response{Description: &respDesc, Content: openapi3.Content{}}
	status := &openapi3.SchemaRef{Ref: g.status.Ref, Value: g.status.Value}
	errDesc := "An error: the HTTP status follows the gRPC code, the body is a google.rpc.Status."
	errSchema := status
	switch {
	case raw:
		ok.Content["*/*"] = &openapi3.MediaType{Schema: binarySchema()}
		if m.ServerStreaming() {
			*ok.Description += "\n\nThe messages' data, written one after another as they arrive, with the content type " +
				"of the first message. If the call fails after the first message, the body ends with an " +
				"`{\"error\": <google.rpc.Status>}` object."
			errDesc = "An error before the first message: the HTTP status follows the gRPC code, the body is " +
				"`{\"error\": <google.rpc.Status>}`."
			errSchema = g.errorEnvelope(status)
		}
	case m.ServerStreaming():
		g.streamContent(ok, resp, status)
		if g.cfg.streamFormat == transcoding.StreamEnvelope {
			errDesc = "An error before the first message: the HTTP status follows the gRPC code; the body is " +
				"`{\"error\": <google.rpc.Status>}` for a client that asked for `application/json` (or for no format), " +
				"a google.rpc.Status for one that asked for `application/x-ndjson` or `text/event-stream`."
			errSchema = &openapi3.SchemaRef{Value: &openapi3.Schema{AnyOf: openapi3.SchemaRefs{status, g.errorEnvelope(status)}}}
		}
	default:
		ok.Content["application/json"] = &openapi3.MediaType{Schema: resp}
	}
	op.Responses.Set("200", &openapi3.ResponseRef{Value: ok})
	op.Responses.Set("default", &openapi3.ResponseRef{Value: &openapi3.Response{
		Description: &errDesc,
		Content:     openapi3.Content{"application/json": &openapi3.MediaType{Schema: errSchema}},
	}})
	return op
}

// streamContent documents the response of a server stream in each format
// the client may ask for by Accept, as the transcoder writes it (see
// transcoding.StreamFormat): one message per line or event, each flushed
// as it arrives.
func (g *generator) streamContent(ok *openapi3.Response, msg, status *openapi3.SchemaRef) {
	ndjson := &openapi3.MediaType{Schema: &openapi3.SchemaRef{Value: &openapi3.Schema{
		Description: "One line per message: the message's JSON. If the call fails after the first message, a final line " +
			"holds the google.rpc.Status with `\"@type\": \"type.googleapis.com/google.rpc.Status\"`, which no message carries.",
		AnyOf: openapi3.SchemaRefs{msg, g.typedStatus(status)},
	}}}
	var b strings.Builder
	b.WriteString("\n\nA stream, in the format the `Accept` header asks for:\n\n")
	if g.cfg.streamFormat == transcoding.StreamEnvelope {
		ok.Content["application/json"] = &openapi3.MediaType{Schema: g.streamEnvelope(msg)}
		b.WriteString("- `application/json`, or no `Accept` (grpc-gateway's format): newline-delimited JSON, one " +
			"`{\"result\": <message>}` object per message, and a final `{\"error\": <google.rpc.Status>}` line if the call " +
			"fails after the first message.\n")
		b.WriteString("- `application/x-ndjson`: newline-delimited JSON, one message per line, and a final google.rpc.Status " +
			"line typed by `\"@type\"` if the call fails after the first message.\n")
	} else {
		b.WriteString("- `application/x-ndjson`, `application/json` or no `Accept`: newline-delimited JSON (served as " +
			"`application/x-ndjson`), one message per line, and a final google.rpc.Status line typed by `\"@type\"` if " +
			"the call fails after the first message.\n")
	}
	ok.Content["application/x-ndjson"] = ndjson
	ok.Content["text/event-stream"] = &openapi3.MediaType{Schema: &openapi3.SchemaRef{Value: &openapi3.Schema{
		Type:             types("string"),
		ContentMediaType: "text/event-stream",
		Description:      sseDescription,
	}}}
	b.WriteString("- `text/event-stream`: " + sseDescription + "\n\n")
	b.WriteString("Each message is flushed as it arrives. An `Accept` that allows none of these formats gets 406.")
	*ok.Description += b.String()
}

// sseDescription says what a Server-Sent Events stream carries.
const sseDescription = "Server-Sent Events: one unnamed event per message, its data the message's JSON; then one final " +
	"event whose data is a google.rpc.Status: `end` (code 0) when the call succeeded, `grpc-error` when it failed after " +
	"the first message. Close the EventSource on either, or the browser reconnects and calls again (the final event " +
	"sets `retry` to a day, so that it is not at once). Comment lines (`:`) may keep an idle stream open."

// typedStatus is a google.rpc.Status carrying its "@type", as a failed
// NDJSON stream ends.
func (g *generator) typedStatus(status *openapi3.SchemaRef) *openapi3.SchemaRef {
	return &openapi3.SchemaRef{Value: &openapi3.Schema{
		AllOf: openapi3.SchemaRefs{status, {Value: &openapi3.Schema{
			Type:       types("object"),
			Properties: openapi3.Schemas{"@type": {Value: &openapi3.Schema{Type: types("string"), Const: statusType}}},
			Required:   []string{"@type"},
		}}},
	}}
}

// errorEnvelope is `{"error": <google.rpc.Status>}`.
func (g *generator) errorEnvelope(status *openapi3.SchemaRef) *openapi3.SchemaRef {
	return &openapi3.SchemaRef{Value: &openapi3.Schema{
		Type:                 types("object"),
		Properties:           openapi3.Schemas{"error": status},
		Required:             []string{"error"},
		AdditionalProperties: openapi3.AdditionalProperties{Has: boolPtr(false)},
	}}
}

// pathParameter documents one wildcard segment.
func (g *generator) pathParameter(p pathParam, tmpl *httprule.Template, all []pathParam, in protoreflect.MessageDescriptor) *openapi3.Parameter {
	param := &openapi3.Parameter{Name: p.name, In: openapi3.ParameterInPath, Required: true}
	fd := fieldAt(in, p.v.FieldPath)
	var desc []string
	if fd != nil {
		if c := g.cfg.comment(fd); c != "" {
			desc = append(desc, c)
		}
	}
	if p.whole && fd != nil {
		param.Schema = &openapi3.SchemaRef{Value: paramScalar(fd, g)}
	} else {
		param.Schema = &openapi3.SchemaRef{Value: &openapi3.Schema{Type: types("string")}}
		if fd != nil {
			desc = append(desc, fmt.Sprintf("Part of `%s`: `%s`.", g.fieldPathName(in, p.v.FieldPath), variableText(tmpl, p.v, all)))
		}
	}
	if p.deep {
		desc = append(desc, "One or more path segments, separated by `/`. Write the `/` as it is: many OpenAPI "+
			"clients percent-encode path parameters, but an encoded slash (`%2F`) does not separate segments "+
			"here; it stays part of one segment and reaches the field still encoded (`a%2Fb`, not `a/b`).")
	}
	param.Description = strings.Join(desc, "\n\n")
	return param
}

// variableText writes variable v of tmpl with the OpenAPI parameter names
// in place of its wildcards, e.g. `shelves/{shelvesId}/books/{booksId}`.
func variableText(tmpl *httprule.Template, v httprule.Variable, all []pathParam) string {
	segs := tmpl.Segments()
	byIndex := map[int]string{}
	for _, p := range all {
		byIndex[p.segment] = p.name
	}
	parts := make([]string, 0, v.End-v.Start)
	for i := v.Start; i < v.End; i++ {
		if segs[i].Kind == httprule.Literal {
			parts = append(parts, segs[i].Literal)
		} else {
			parts = append(parts, "{"+byIndex[i]+"}")
		}
	}
	return strings.Join(parts, "/")
}

// paramScalar is the schema of a field carried as one path or query value.
func paramScalar(fd protoreflect.FieldDescriptor, g *generator) *openapi3.Schema {
	switch fd.Kind() {
	case protoreflect.EnumKind:
		ref := g.schemas.enum(fd.Enum())
		if ref.Ref == "" {
			return ref.Value
		}
		return &openapi3.Schema{AllOf: openapi3.SchemaRefs{ref}}
	case protoreflect.MessageKind, protoreflect.GroupKind:
		if s := wellKnown(fd.Message().FullName()); s != nil {
			s.Type = types((*s.Type)[0]) // a parameter is never null
			return s
		}
		return &openapi3.Schema{Type: types("string")}
	}
	return scalar(fd.Kind())
}

// queryParams lists the fields of md under prefix that no path variable
// or body binds and that a query parameter can carry: scalars, enums,
// repeated scalars and the well-known types with a string form, through
// singular message fields (each message once per chain, so recursive
// messages end).
func (g *generator) queryParams(md protoreflect.MessageDescriptor, prefix []string, jsonPrefix string, bound [][]string, seen map[protoreflect.FullName]bool) openapi3.Parameters {
	if seen[md.FullName()] {
		return nil
	}
	seen[md.FullName()] = true
	defer delete(seen, md.FullName())
	var out openapi3.Parameters
	fields := md.Fields()
	for i := 0; i < fields.Len(); i++ {
		fd := fields.Get(i)
		path := append(append([]string(nil), prefix...), string(fd.Name()))
		if isBound(bound, path) {
			continue
		}
		var schema *openapi3.Schema
		switch {
		case fd.IsMap():
			if p := g.mapQueryParam(fd, jsonPrefix); p != nil {
				out = append(out, &openapi3.ParameterRef{Value: p})
			}
			continue
		case fd.Message() != nil && !transcoding.ScalarMessage(fd.Message().FullName()):
			if fd.IsList() || wellKnown(fd.Message().FullName()) != nil {
				continue // no query form
			}
			out = append(out, g.queryParams(fd.Message(), path, jsonPrefix+g.schemas.jsonName(fd)+".", bound, seen)...)
			continue
		case fd.IsList():
			schema = &openapi3.Schema{Type: types("array"), Items: &openapi3.SchemaRef{Value: paramScalar(fd, g)}}
		default:
			schema = paramScalar(fd, g)
		}
		p := &openapi3.Parameter{
			Name:        jsonPrefix + g.schemas.jsonName(fd),
			In:          openapi3.ParameterInQuery,
			Description: g.cfg.comment(fd),
			Schema:      &openapi3.SchemaRef{Value: schema},
			Required:    len(prefix) == 0 && hasBehavior(fd, annotations.FieldBehavior_REQUIRED),
		}
		out = append(out, &openapi3.ParameterRef{Value: p})
	}
	return out
}

// mapQueryParam documents a map field as the transcoder binds it from the
// query: one `field[key]=value` parameter per entry, OpenAPI's deepObject
// style. Maps whose values are messages without a string form have no
// query form; nil then.
func (g *generator) mapQueryParam(fd protoreflect.FieldDescriptor, jsonPrefix string) *openapi3.Parameter {
	v := fd.MapValue()
	if v.Message() != nil && !transcoding.ScalarMessage(v.Message().FullName()) {
		return nil
	}
	name := jsonPrefix + g.schemas.jsonName(fd)
	desc := strings.TrimSpace(g.cfg.comment(fd) + "\n\n" + fmt.Sprintf(
		"A map: one `%s[KEY]=VALUE` parameter per entry, e.g. `%s[a]=1&%s[b]=2`.", name, name, name))
	return &openapi3.Parameter{
		Name:        name,
		In:          openapi3.ParameterInQuery,
		Description: desc,
		Style:       openapi3.SerializationDeepObject,
		Explode:     boolPtr(true),
		Schema: &openapi3.SchemaRef{Value: &openapi3.Schema{
			Type:                 types("object"),
			AdditionalProperties: openapi3.AdditionalProperties{Schema: &openapi3.SchemaRef{Value: paramScalar(v, g)}},
		}},
	}
}

func isBound(bound [][]string, path []string) bool {
	return slices.ContainsFunc(bound, func(b []string) bool {
		return len(b) <= len(path) && slices.Equal(b, path[:len(b)])
	})
}

func binarySchema() *openapi3.SchemaRef {
	return &openapi3.SchemaRef{Value: &openapi3.Schema{Type: types("string"), Format: "binary"}}
}

// rawBody is the request body of a google.api.HttpBody: the raw bytes of
// any content type.
func rawBody(desc string) *openapi3.RequestBodyRef {
	return &openapi3.RequestBodyRef{Value: &openapi3.RequestBody{
		Description: strings.TrimSpace(desc + "\n\nThe raw request body, of any content type."),
		Required:    true,
		Content:     openapi3.Content{"*/*": &openapi3.MediaType{Schema: binarySchema()}},
	}}
}

// jsonBody is a JSON request body; a client stream sends one message per
// line.
func (g *generator) jsonBody(schema *openapi3.SchemaRef, desc string, stream bool) *openapi3.RequestBodyRef {
	body := &openapi3.RequestBody{Description: desc, Required: true, Content: openapi3.Content{}}
	if stream {
		body.Description = strings.TrimSpace(desc + "\n\nA stream of messages: newline-delimited JSON, one message per line, each of this schema.")
		body.Content["application/x-ndjson"] = &openapi3.MediaType{Schema: schema}
	} else {
		body.Content["application/json"] = &openapi3.MediaType{Schema: schema}
	}
	return &openapi3.RequestBodyRef{Value: body}
}

// streamEnvelope is one line of a newline-delimited JSON stream: a
// message as `result`, or the final `error`.
const statusType = "type.googleapis.com/google.rpc.Status"

func (g *generator) streamEnvelope(msg *openapi3.SchemaRef) *openapi3.SchemaRef {
	return &openapi3.SchemaRef{Value: &openapi3.Schema{
		Type:        types("object"),
		Description: "One line of the stream: a message as `result`, or the error that ended the call as `error`.",
		Properties: openapi3.Schemas{
			"result": msg,
			"error":  {Ref: g.status.Ref, Value: g.status.Value},
		},
		// Exactly one of the two.
		MinProps:             1,
		MaxProps:             openapi3.Ptr(uint64(1)),
		AdditionalProperties: openapi3.AdditionalProperties{Has: boolPtr(false)},
	}}
}
