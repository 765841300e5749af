package openapi_test

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/sluice-dev/sluice/openapi"
	"github.com/sluice-dev/sluice/registry"
)

const svc = "/sluice.demo.library.v1.LibraryService/"

func requirements(s *openapi3.SecurityRequirements) []string {
	if s == nil {
		return nil
	}
	var out []string
	for _, r := range *s {
		var names []string
		for name := range r {
			names = append(names, name)
		}
		out = append(out, "{"+strings.Join(sortStrings(names), ",")+"}")
	}
	return out
}

// The configured authentication becomes security schemes, and each
// operation the requirements of its method: optional credentials for
// anonymous methods, the accepted providers for authenticated ones;
// denied methods are left out.
func TestSecurity(t *testing.T) {
	t.Parallel()
	policy := openapi.AccessFunc(func(method string) (openapi.Access, []string) {
		switch method {
		case svc + "GetBook":
			return openapi.AccessAnonymous, nil
		case svc + "CreateBook":
			return openapi.AccessAuthenticated, []string{"api_key"}
		case svc + "DeleteBook":
			return openapi.AccessDenied, nil
		case svc + "UploadBook":
			return openapi.AccessAuthenticated, []string{"oauth"} // no such scheme: no call can pass
		}
		return openapi.AccessAuthenticated, nil
	})
	doc := loadDemo(t, openapi.WithSecurity(policy,
		openapi.SecurityScheme{Provider: "jwt", Kind: openapi.BearerJWT},
		openapi.SecurityScheme{Provider: "api_key", Kind: openapi.APIKeyHeader, Name: "x-api-key"},
		openapi.SecurityScheme{Provider: "mtls", Kind: openapi.MutualTLS},
	))
	schemes := doc.Components.SecuritySchemes
	if jwt := schemes["jwt"]; jwt == nil || jwt.Value.Type != "http" || jwt.Value.Scheme != "bearer" || jwt.Value.BearerFormat != "JWT" {
		t.Errorf("jwt scheme %+v", jwt)
	}
	if key := schemes["api_key"]; key == nil || key.Value.Type != "apiKey" || key.Value.In != "header" || key.Value.Name != "x-api-key" {
		t.Errorf("api_key scheme %+v", key)
	}
	if m := schemes["mtls"]; m == nil || m.Value.Type != "mutualTLS" {
		t.Errorf("mtls scheme %+v", m)
	}
	if len(doc.Security) != 0 {
		t.Errorf("root security %v; each operation states its own", doc.Security)
	}
	book := doc.Paths.Value("/v1/shelves/{shelvesId}/books/{booksId}")
	if got := strings.Join(requirements(book.Get.Security), " "); got != "{} {jwt} {api_key} {mtls}" {
		t.Errorf("anonymous GetBook: security %s, want optional credentials of any scheme", got)
	}
	if book.Delete != nil {
		t.Error("DeleteBook is denied to every caller, yet documented")
	}
	if got := strings.Join(requirements(doc.Paths.Value("/v1/shelves/{shelvesId}/books").Post.Security), " "); got != "{api_key}" {
		t.Errorf("CreateBook: security %s, want the API key alone", got)
	}
	if got := strings.Join(requirements(doc.Paths.Value("/v1/shelves").Get.Security), " "); got != "{jwt} {api_key} {mtls}" {
		t.Errorf("ListShelves: security %s, want any scheme, required", got)
	}
	if up := doc.Paths.Value("/v1/shelves/{shelvesId}/books/{booksId}:upload"); up != nil && up.Post != nil {
		t.Error("UploadBook accepts no configured scheme, yet is documented")
	}

	// Without authentication every operation is open, said once.
	open := loadDemo(t)
	if got := requirements(&open.Security); len(got) != 1 || got[0] != "{}" {
		t.Errorf("open gateway: root security %v, want [{}]", got)
	}
}

// A client-streamed google.api.HttpBody binding is served (the raw body
// streamed in chunks), so it is documented with a raw request body.
func TestClientStreamedHTTPBodyDocumented(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile(demoSet)
	if err != nil {
		t.Fatal(err)
	}
	set := new(descriptorpb.FileDescriptorSet)
	if err := proto.Unmarshal(data, set); err != nil {
		t.Fatal(err)
	}
	for _, f := range set.GetFile() {
		for _, m := range f.GetService() {
			for _, md := range m.GetMethod() {
				if md.GetName() == "UploadBook" {
					md.ClientStreaming = proto.Bool(true)
				}
			}
		}
	}
	data, err = proto.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	s, err := registry.Build(registry.DescriptorSet("stream-upload.binpb", data))
	if err != nil {
		t.Fatal(err)
	}
	doc, err := openapi.Generate(s)
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatal(err)
	}
	if item := doc.Paths.Value("/v1/shelves/{shelvesId}/books/{booksId}:upload"); item == nil || item.Post == nil ||
		item.Post.RequestBody == nil || item.Post.RequestBody.Value.Content.Get("*/*") == nil {
		t.Error("the client-streamed HttpBody upload is served and must be documented with a raw body")
	}
	if doc.Paths.Value("/v1/books:import") == nil {
		t.Error("the client-streamed JSON import is served and must stay documented")
	}
}

// A map field is carried in the query as `field[key]=value`: a deepObject
// parameter.
func TestMapQueryParameter(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile(demoSet)
	if err != nil {
		t.Fatal(err)
	}
	set := new(descriptorpb.FileDescriptorSet)
	if err := proto.Unmarshal(data, set); err != nil {
		t.Fatal(err)
	}
	for _, f := range set.GetFile() {
		for _, m := range f.GetMessageType() {
			if m.GetName() != "ListBooksRequest" {
				continue
			}
			m.NestedType = append(m.NestedType, &descriptorpb.DescriptorProto{
				Name: proto.String("LabelsEntry"),
				Field: []*descriptorpb.FieldDescriptorProto{
					{Name: proto.String("key"), Number: proto.Int32(1), Label: descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum(), Type: descriptorpb.FieldDescriptorProto_TYPE_STRING.Enum(), JsonName: proto.String("key")},
					{Name: proto.String("value"), Number: proto.Int32(2), Label: descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum(), Type: descriptorpb.FieldDescriptorProto_TYPE_INT32.Enum(), JsonName: proto.String("value")},
				},
				Options: &descriptorpb.MessageOptions{MapEntry: proto.Bool(true)},
			})
			m.Field = append(m.Field, &descriptorpb.FieldDescriptorProto{
				Name: proto.String("labels"), Number: proto.Int32(99), JsonName: proto.String("labels"),
				Label: descriptorpb.FieldDescriptorProto_LABEL_REPEATED.Enum(), Type: descriptorpb.FieldDescriptorProto_TYPE_MESSAGE.Enum(),
				TypeName: proto.String(".sluice.demo.library.v1.ListBooksRequest.LabelsEntry"),
			})
		}
	}
	data, err = proto.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	s, err := registry.Build(registry.DescriptorSet("labels.binpb", data))
	if err != nil {
		t.Fatal(err)
	}
	doc, err := openapi.Generate(s)
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatal(err)
	}
	var labels *openapi3.Parameter
	for _, p := range doc.Paths.Value("/v1/shelves/{shelvesId}/books").Get.Parameters {
		if p.Value.Name == "labels" {
			labels = p.Value
		}
	}
	if labels == nil {
		t.Fatal("the map field has no query parameter")
	}
	if labels.In != "query" || labels.Style != "deepObject" || labels.Explode == nil || !*labels.Explode ||
		!labels.Schema.Value.Type.Is("object") || !labels.Schema.Value.AdditionalProperties.Schema.Value.Type.Is("integer") {
		t.Errorf("labels parameter %+v, want a deepObject of integers", labels)
	}
	if !strings.Contains(labels.Description, "`labels[KEY]=VALUE`") {
		t.Errorf("labels description %q", labels.Description)
	}
}

// Methods no upstream serves answer 501 to every call: WithRouted leaves
// them out.
func TestWithRouted(t *testing.T) {
	t.Parallel()
	doc := loadDemo(t, openapi.WithRouted(func(method string) bool { return method != svc+"GetBook" }))
	item := doc.Paths.Value("/v1/shelves/{shelvesId}/books/{booksId}")
	if item == nil || item.Get != nil || item.Patch == nil {
		t.Errorf("GetBook, which no upstream serves, is documented (or its path's other methods are not): %+v", item)
	}
}
