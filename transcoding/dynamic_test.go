package transcoding_test

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"reflect"
	"strings"
	"testing"

	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/sluice-dev/sluice/frame"
	"github.com/sluice-dev/sluice/internal/gatewaytest"
	"github.com/sluice-dev/sluice/registry"
	"github.com/sluice-dev/sluice/transcoding"
)

// The contract of these tests exists only as a descriptor set built here
// (transcoding/testdata/things.proto is its source, for reading): nothing
// of it is linked into the binary, so every message is a dynamicpb one.

func rule(r *annotations.HttpRule) *descriptorpb.MethodOptions {
	o := &descriptorpb.MethodOptions{}
	proto.SetExtension(o, annotations.E_Http, r)
	return o
}

func field(name string, num int32, typ descriptorpb.FieldDescriptorProto_Type, typeName string, label descriptorpb.FieldDescriptorProto_Label) *descriptorpb.FieldDescriptorProto {
	f := &descriptorpb.FieldDescriptorProto{
		Name: proto.String(name), Number: proto.Int32(num), Type: typ.Enum(), Label: label.Enum(),
		JsonName: proto.String(jsonName(name)),
	}
	if typeName != "" {
		f.TypeName = proto.String(typeName)
	}
	return f
}

func jsonName(s string) string {
	parts := strings.Split(s, "_")
	for i := 1; i < len(parts); i++ {
		if parts[i] != "" {
			parts[i] = strings.ToUpper(parts[i][:1]) + parts[i][1:]
		}
	}
	return strings.Join(parts, "")
}

const (
	optional = descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL
	repeated = descriptorpb.FieldDescriptorProto_LABEL_REPEATED
)

// thingsFile is testdata/things.proto as a FileDescriptorProto, with the
// given rules on its methods (Get, Create, Update).
func thingsFile(get, create, update *annotations.HttpRule) *descriptorpb.FileDescriptorProto {
	T := descriptorpb.FieldDescriptorProto_TYPE_STRING
	msgT := descriptorpb.FieldDescriptorProto_TYPE_MESSAGE
	enumT := descriptorpb.FieldDescriptorProto_TYPE_ENUM
	methods := []*descriptorpb.MethodDescriptorProto{}
	add := func(name string, r *annotations.HttpRule) {
		m := &descriptorpb.MethodDescriptorProto{Name: proto.String(name), InputType: proto.String(".things.v1.Thing"), OutputType: proto.String(".things.v1.Thing")}
		if r != nil {
			m.Options = rule(r)
		}
		methods = append(methods, m)
	}
	add("GetThing", get)
	add("CreateThing", create)
	add("UpdateThing", update)
	return &descriptorpb.FileDescriptorProto{
		Name:       proto.String("things/v1/things.proto"),
		Package:    proto.String("things.v1"),
		Syntax:     proto.String("proto3"),
		Dependency: []string{"google/api/annotations.proto", "google/protobuf/timestamp.proto", "google/protobuf/field_mask.proto"},
		EnumType: []*descriptorpb.EnumDescriptorProto{{
			Name: proto.String("Kind"),
			Value: []*descriptorpb.EnumValueDescriptorProto{
				{Name: proto.String("KIND_UNSPECIFIED"), Number: proto.Int32(0)},
				{Name: proto.String("KIND_ROUND"), Number: proto.Int32(1)},
				{Name: proto.String("KIND_SQUARE"), Number: proto.Int32(2)},
			},
		}},
		MessageType: []*descriptorpb.DescriptorProto{{
			Name: proto.String("Thing"),
			Field: []*descriptorpb.FieldDescriptorProto{
				field("name", 1, T, "", optional),
				field("kind", 2, enumT, ".things.v1.Kind", optional),
				field("count", 3, descriptorpb.FieldDescriptorProto_TYPE_INT64, "", optional),
				field("seen_time", 4, msgT, ".google.protobuf.Timestamp", optional),
				field("tags", 5, T, "", repeated),
				field("attrs", 6, msgT, ".things.v1.Thing.AttrsEntry", repeated),
				field("update_mask", 7, msgT, ".google.protobuf.FieldMask", optional),
				field("child", 8, msgT, ".things.v1.Thing", optional),
			},
			NestedType: []*descriptorpb.DescriptorProto{{
				Name: proto.String("AttrsEntry"),
				Field: []*descriptorpb.FieldDescriptorProto{
					field("key", 1, T, "", optional),
					field("value", 2, T, "", optional),
				},
				Options: &descriptorpb.MessageOptions{MapEntry: proto.Bool(true)},
			}},
		}},
		Service: []*descriptorpb.ServiceDescriptorProto{{Name: proto.String("ThingService"), Method: methods}},
	}
}

// descriptorSet serialises fds as `buf build -o` would (registry.Build
// resolves the well-known imports from the linked descriptors).
func descriptorSet(t testing.TB, fds ...*descriptorpb.FileDescriptorProto) []byte {
	t.Helper()
	b, err := proto.Marshal(&descriptorpb.FileDescriptorSet{File: fds})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func defaultThingRules() (get, create, update *annotations.HttpRule) {
	return &annotations.HttpRule{Pattern: &annotations.HttpRule_Get{Get: "/v1/{name=things/*}"}},
		&annotations.HttpRule{Pattern: &annotations.HttpRule_Post{Post: "/v1/things"}, Body: "*"},
		&annotations.HttpRule{Pattern: &annotations.HttpRule_Patch{Patch: "/v1/{name=things/*}/child"}, Body: "child"}
}

func thingsSnapshot(t testing.TB, rules func() (get, create, update *annotations.HttpRule)) *registry.Snapshot {
	t.Helper()
	fd := thingsFile(rules())
	s, err := registry.Build(registry.DescriptorSet("things.binpb", descriptorSet(t, fd)))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// echoServer answers every method with the request it got, byte for byte.
func echoServer(t *testing.T) string {
	t.Helper()
	return gatewaytest.StartUpstream(t, func(_ any, ss grpc.ServerStream) error {
		f := new(frame.Frame)
		if err := ss.RecvMsg(f); err != nil {
			return err
		}
		if err := ss.RecvMsg(new(frame.Frame)); !errors.Is(err, io.EOF) {
			return err
		}
		return ss.SendMsg(f)
	}, grpc.ForceServerCodecV2(frame.Codec()))
}

// TestRESTUnlinkedDescriptorSet is acceptance 5: REST served for an API
// known only by its descriptor set, with dynamic messages throughout.
func TestRESTUnlinkedDescriptorSet(t *testing.T) {
	gatewaytest.CheckLeaks(t)
	snap := thingsSnapshot(t, defaultThingRules)
	routes, err := transcoding.BuildRoutes(snap)
	if err != nil {
		t.Fatal(err)
	}
	e := startREST(t, routes, echoServer(t), "things.v1", slog.DiscardHandler, newClient())

	r := e.do(t, "GET", "/v1/things/t1?kind=KIND_SQUARE&count=7&seen_time=2020-01-02T03:04:05Z&tags=a&tags=b&attrs[color]=red&child.name=kid&name=ignored", "")
	if r.code != 200 {
		t.Fatalf("get: %d %s", r.code, r.raw)
	}
	for path, want := range map[string]any{
		"name": "things/t1", "kind": "KIND_SQUARE", "count": "7", "seenTime": "2020-01-02T03:04:05Z",
		"attrs.color": "red", "child.name": "kid",
	} {
		if got := get(r.json, path); got != want {
			t.Errorf("%s = %#v, want %#v (%s)", path, got, want, r.raw)
		}
	}
	if tags, _ := r.json["tags"].([]any); len(tags) != 2 {
		t.Errorf("tags = %v", r.json["tags"])
	}
	r = e.do(t, "GET", "/v1/things/t1?kind=2", "")
	if get(r.json, "kind") != "KIND_SQUARE" {
		t.Errorf("enum by number: %s", r.raw)
	}
	r = e.do(t, "GET", "/v1/things/t1?kind=KIND_NOPE", "")
	if r.code != 400 {
		t.Errorf("bad enum: %d %s", r.code, r.raw)
	}
	r = e.do(t, "POST", "/v1/things", `{"name":"things/t2","kind":"KIND_ROUND","seen_time":null,"attrs":{"a":"b"},"count":"12"}`)
	if r.code != 200 || get(r.json, "kind") != "KIND_ROUND" || get(r.json, "attrs.a") != "b" || get(r.json, "count") != "12" {
		t.Errorf("create: %d %s", r.code, r.raw)
	}
	r = e.do(t, "PATCH", "/v1/things/t3/child", `{"kind":"KIND_ROUND","tags":["x"]}`)
	if r.code != 200 || get(r.json, "name") != "things/t3" || get(r.json, "child.kind") != "KIND_ROUND" {
		t.Fatalf("patch: %d %s", r.code, r.raw)
	}
	if got, _ := r.json["updateMask"].(string); got != "kind,tags" {
		t.Errorf("update mask = %q, want kind,tags", got)
	}
}

// TestBuildRoutesErrors checks that, with WithStrictRoutes, every bad rule
// is reported at once, each naming its method, and conflicts naming both
// sources.
func TestBuildRoutesErrors(t *testing.T) {
	t.Parallel()
	get, create, update := defaultThingRules()
	tests := []struct {
		name                string
		get, create, update *annotations.HttpRule
		want                []string
	}{
		{name: "conflict", get: get, create: create,
			update: &annotations.HttpRule{Pattern: &annotations.HttpRule_Get{Get: "/v1/{child.name=things/*}"}},
			want:   []string{"things.v1.ThingService.UpdateThing", "things.v1.ThingService.GetThing", "shadowed by"}},
		{name: "nested additional bindings", get: get, create: create,
			update: &annotations.HttpRule{Pattern: &annotations.HttpRule_Get{Get: "/v1/x"}, AdditionalBindings: []*annotations.HttpRule{{
				Pattern:            &annotations.HttpRule_Get{Get: "/v1/y"},
				AdditionalBindings: []*annotations.HttpRule{{Pattern: &annotations.HttpRule_Get{Get: "/v1/z"}}},
			}}},
			want: []string{"UpdateThing", "may not have additional_bindings"}},
		{name: "everything wrong at once",
			get:    &annotations.HttpRule{Pattern: &annotations.HttpRule_Get{Get: "/v1/{nope}"}},
			create: &annotations.HttpRule{Pattern: &annotations.HttpRule_Post{Post: "/v1/things"}, Body: "missing", ResponseBody: "absent"},
			update: &annotations.HttpRule{Pattern: &annotations.HttpRule_Get{Get: "/v1/{child}"}, Body: "*"},
			want: []string{"GetThing", `no field "nope"`, "CreateThing", `body "missing"`, `response_body "absent"`,
				"UpdateThing", "is not a scalar field", "GET binding may not have a body"}},
		{name: "bad template", get: &annotations.HttpRule{Pattern: &annotations.HttpRule_Get{Get: "/v1/{name"}}, create: create, update: update,
			want: []string{"GetThing", "parse path template"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := transcoding.BuildRoutes(thingsSnapshot(t, func() (_, _, _ *annotations.HttpRule) { return tt.get, tt.create, tt.update }),
				transcoding.WithStrictRoutes())
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not mention %q:\n%v", w, err)
				}
			}
		})
	}
}

// TestBuildRoutesList lists the demo-like table in a stable order.
func TestBuildRoutesList(t *testing.T) {
	t.Parallel()
	get, create, update := defaultThingRules()
	get.AdditionalBindings = []*annotations.HttpRule{{Pattern: &annotations.HttpRule_Custom{Custom: &annotations.CustomHttpPattern{Kind: "HEAD", Path: "/v1/{name=things/*}"}}}}
	routes, err := transcoding.BuildRoutes(thingsSnapshot(t, func() (_, _, _ *annotations.HttpRule) { return get, create, update }))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range routes.List() {
		got = append(got, r.HTTPMethod+" "+r.Template+" "+r.Method+" body="+r.Body)
	}
	want := []string{
		"POST /v1/things /things.v1.ThingService/CreateThing body=*",
		"GET /v1/{name=things/*} /things.v1.ThingService/GetThing body=",
		"HEAD /v1/{name=things/*} /things.v1.ThingService/GetThing body=",
		"PATCH /v1/{name=things/*}/child /things.v1.ThingService/UpdateThing body=child",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("routes:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestStrictMethods checks that one method can refuse unknown fields and
// parameters while the others keep the lenient defaults.
func TestStrictMethods(t *testing.T) {
	t.Parallel()
	routes, err := transcoding.BuildRoutes(thingsSnapshot(t, defaultThingRules),
		transcoding.WithStrictMethods("/things.v1.ThingService/UpdateThing"))
	if err != nil {
		t.Fatal(err)
	}
	h, err := transcoding.NewREST(func() *transcoding.Routes { return routes }, &captureDispatcher{response: []byte{}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		method, target, body string
		code                 int
	}{
		{"POST", "/v1/things", `{"nope":1}`, 200},
		{"GET", "/v1/things/a?nope=1", "", 200},
		{"PATCH", "/v1/things/a/child", `{"nope":1}`, 400},
		{"PATCH", "/v1/things/a/child?nope=1", `{}`, 400},
		{"PATCH", "/v1/things/a/child?count=1", `{"kind":1}`, 200},
	} {
		if w := serve(h, tt.method, tt.target, tt.body); w.Code != tt.code {
			t.Errorf("%s %s %s: %d, want %d: %s", tt.method, tt.target, tt.body, w.Code, tt.code, w.Body)
		}
	}
}

// TestStreamedBodyPathAndQuery checks that every message of a streamed
// body carries the same path variables and query parameters, with the
// fast codecs and without.
func TestStreamedBodyPathAndQuery(t *testing.T) {
	t.Parallel()
	fd := thingsFile(defaultThingRules())
	fd.Service[0].Method = append(fd.Service[0].Method, &descriptorpb.MethodDescriptorProto{
		Name:            proto.String("StreamThings"),
		InputType:       proto.String(".things.v1.Thing"),
		OutputType:      proto.String(".things.v1.Thing"),
		ClientStreaming: proto.Bool(true),
		Options:         rule(&annotations.HttpRule{Pattern: &annotations.HttpRule_Post{Post: "/v1/{name=things/*}:stream"}, Body: "child"}),
	})
	snap, err := registry.Build(registry.DescriptorSet("things.binpb", descriptorSet(t, fd)))
	if err != nil {
		t.Fatal(err)
	}
	routes, err := transcoding.BuildRoutes(snap)
	if err != nil {
		t.Fatal(err)
	}
	d, err := snap.Files().FindDescriptorByName("things.v1.Thing")
	if err != nil {
		t.Fatal(err)
	}
	thing := d.(protoreflect.MessageDescriptor)
	for name, opts := range map[string][]transcoding.Option{"fast": nil, "protojson": {transcoding.WithProtojsonOnly()}} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dd := &drainDispatcher{}
			h, err := transcoding.NewREST(func() *transcoding.Routes { return routes }, dd, opts...)
			if err != nil {
				t.Fatal(err)
			}
			body := `{"name":"c1"}` + "\n" + `{"name":"c2","count":"3"}` + "\n"
			w := serve(h, "POST", "/v1/things/a:stream?count=7&tags=x&tags=y", body, "Content-Type", "application/x-ndjson")
			if w.Code != 200 {
				t.Fatalf("status %d: %s", w.Code, w.Body)
			}
			if len(dd.msgs) != 2 {
				t.Fatalf("%d messages, want 2", len(dd.msgs))
			}
			for i, data := range dd.msgs {
				m := dynamicpb.NewMessage(thing)
				if err := proto.Unmarshal(data, m); err != nil {
					t.Fatal(err)
				}
				got, err := protojson.Marshal(m)
				if err != nil {
					t.Fatal(err)
				}
				child := [...]string{`{"name":"c1"}`, `{"name":"c2","count":"3"}`}[i]
				want := `{"name":"things/a","count":"7","tags":["x","y"],"child":` + child + `}`
				var g, w2 any
				if err := json.Unmarshal(got, &g); err != nil {
					t.Fatal(err)
				}
				if err := json.Unmarshal([]byte(want), &w2); err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(g, w2) {
					t.Errorf("message %d = %s, want %s", i, got, want)
				}
			}
		})
	}
}
