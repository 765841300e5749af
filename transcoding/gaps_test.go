package transcoding_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/genproto/googleapis/api/httpbody"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/sluice-dev/sluice/frame"
	"github.com/sluice-dev/sluice/internal/gatewaytest"
	"github.com/sluice-dev/sluice/registry"
	"github.com/sluice-dev/sluice/transcoding"
)

// gapsFile is a contract with the binding shapes of grpc-gateway's
// examples that the things API lacks: repeated fields bound in the path,
// nested body and response_body field paths, HttpBody streams.
//
//	enum Kind { KIND_UNSPECIFIED = 0; KIND_ROUND = 1; KIND_SQUARE = 2; }
//	message Payload { oneof input { string input_value = 1; } Inner inner = 2; }
//	message Inner { string text = 1; int32 n = 2; }
//	message Req {
//	  repeated float floats = 1; repeated string strs = 2; repeated Kind kinds = 3;
//	  repeated bytes blobs = 4; Payload payload = 5; string name = 6;
//	  google.protobuf.FieldMask update_mask = 7; repeated string segs = 8;
//	}
//	message Other { Inner body = 1; google.protobuf.FieldMask field_mask = 2; string name = 3; }
//	message Two { Inner body = 1; google.protobuf.FieldMask a = 2; google.protobuf.FieldMask b = 3; string name = 4; }
//	service Gaps {
//	  rpc PatchOther(Other) returns (Other) { patch: "/v1/{name=others/*}" body: "body" }
//	  rpc PatchTwo(Two) returns (Two) { patch: "/v1/{name=twos/*}" body: "body" }
//	  rpc Repeated(Req) returns (Req) { get: "/v1/rep/{floats}/{strs}/{kinds}/{blobs}/{segs=segs/**}" }
//	  rpc Nested(Req) returns (Req) { post: "/v1/{name=nested/*}" body: "payload.input_value" }
//	  rpc NestedMsg(Req) returns (Req) { patch: "/v1/{name=nestedmsg/*}" body: "payload.inner" response_body: "payload.inner" }
//	}
func gapsFile() *descriptorpb.FileDescriptorProto {
	S := descriptorpb.FieldDescriptorProto_TYPE_STRING
	msgT := descriptorpb.FieldDescriptorProto_TYPE_MESSAGE
	oneofField := field("input_value", 1, S, "", optional)
	oneofField.OneofIndex = proto.Int32(0)
	method := func(name string, r *annotations.HttpRule) *descriptorpb.MethodDescriptorProto {
		return &descriptorpb.MethodDescriptorProto{Name: proto.String(name), InputType: proto.String(".gaps.v1.Req"),
			OutputType: proto.String(".gaps.v1.Req"), Options: rule(r)}
	}
	return &descriptorpb.FileDescriptorProto{
		Name:       proto.String("gaps/v1/gaps.proto"),
		Package:    proto.String("gaps.v1"),
		Syntax:     proto.String("proto3"),
		Dependency: []string{"google/api/annotations.proto", "google/protobuf/field_mask.proto"},
		EnumType: []*descriptorpb.EnumDescriptorProto{{
			Name: proto.String("Kind"),
			Value: []*descriptorpb.EnumValueDescriptorProto{
				{Name: proto.String("KIND_UNSPECIFIED"), Number: proto.Int32(0)},
				{Name: proto.String("KIND_ROUND"), Number: proto.Int32(1)},
				{Name: proto.String("KIND_SQUARE"), Number: proto.Int32(2)},
			},
		}},
		MessageType: []*descriptorpb.DescriptorProto{
			{Name: proto.String("Inner"), Field: []*descriptorpb.FieldDescriptorProto{
				field("text", 1, S, "", optional),
				field("n", 2, descriptorpb.FieldDescriptorProto_TYPE_INT32, "", optional),
			}},
			{Name: proto.String("Payload"), Field: []*descriptorpb.FieldDescriptorProto{
				oneofField,
				field("inner", 2, msgT, ".gaps.v1.Inner", optional),
			}, OneofDecl: []*descriptorpb.OneofDescriptorProto{{Name: proto.String("input")}}},
			{Name: proto.String("Other"), Field: []*descriptorpb.FieldDescriptorProto{
				field("body", 1, msgT, ".gaps.v1.Inner", optional),
				field("field_mask", 2, msgT, ".google.protobuf.FieldMask", optional),
				field("name", 3, S, "", optional),
			}},
			{Name: proto.String("Two"), Field: []*descriptorpb.FieldDescriptorProto{
				field("body", 1, msgT, ".gaps.v1.Inner", optional),
				field("a", 2, msgT, ".google.protobuf.FieldMask", optional),
				field("b", 3, msgT, ".google.protobuf.FieldMask", optional),
				field("name", 4, S, "", optional),
			}},
			{Name: proto.String("Req"), Field: []*descriptorpb.FieldDescriptorProto{
				field("floats", 1, descriptorpb.FieldDescriptorProto_TYPE_FLOAT, "", repeated),
				field("strs", 2, S, "", repeated),
				field("kinds", 3, descriptorpb.FieldDescriptorProto_TYPE_ENUM, ".gaps.v1.Kind", repeated),
				field("blobs", 4, descriptorpb.FieldDescriptorProto_TYPE_BYTES, "", repeated),
				field("payload", 5, msgT, ".gaps.v1.Payload", optional),
				field("name", 6, S, "", optional),
				field("update_mask", 7, msgT, ".google.protobuf.FieldMask", optional),
				field("segs", 8, S, "", repeated),
			}},
		},
		Service: []*descriptorpb.ServiceDescriptorProto{{Name: proto.String("Gaps"), Method: []*descriptorpb.MethodDescriptorProto{
			{Name: proto.String("PatchOther"), InputType: proto.String(".gaps.v1.Other"), OutputType: proto.String(".gaps.v1.Other"),
				Options: rule(&annotations.HttpRule{Pattern: &annotations.HttpRule_Patch{Patch: "/v1/{name=others/*}"}, Body: "body"})},
			{Name: proto.String("PatchTwo"), InputType: proto.String(".gaps.v1.Two"), OutputType: proto.String(".gaps.v1.Two"),
				Options: rule(&annotations.HttpRule{Pattern: &annotations.HttpRule_Patch{Patch: "/v1/{name=twos/*}"}, Body: "body"})},
			method("Repeated", &annotations.HttpRule{Pattern: &annotations.HttpRule_Get{Get: "/v1/rep/{floats}/{strs}/{kinds}/{blobs}/{segs=segs/**}"}}),
			method("Nested", &annotations.HttpRule{Pattern: &annotations.HttpRule_Post{Post: "/v1/{name=nested/*}"}, Body: "payload.input_value"}),
			method("NestedMsg", &annotations.HttpRule{Pattern: &annotations.HttpRule_Patch{Patch: "/v1/{name=nestedmsg/*}"},
				Body: "payload.inner", ResponseBody: "payload.inner"}),
		}}},
	}
}

func gapsSnapshot(t *testing.T, fds ...*descriptorpb.FileDescriptorProto) *registry.Snapshot {
	t.Helper()
	if len(fds) == 0 {
		fds = []*descriptorpb.FileDescriptorProto{gapsFile()}
	}
	s, err := registry.Build(registry.DescriptorSet("gaps.binpb", descriptorSet(t, fds...)))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// sameJSON reports whether two JSON texts hold the same value.
func sameJSON(t *testing.T, a, b []byte) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		t.Fatalf("%s: %v", a, err)
	}
	if err := json.Unmarshal(b, &y); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	return reflect.DeepEqual(x, y)
}

// TestRepeatedPathAndNestedBody binds repeated fields from comma-separated
// path values (as grpc-gateway's runtime.Float32Slice and kin split them)
// and nested body field paths, checking the request the upstream got, in
// both codec modes.
func TestRepeatedPathAndNestedBody(t *testing.T) {
	snap := gapsSnapshot(t)
	req := thingDescriptor(t, snap, "gaps.v1.Req")
	tests := []struct {
		name, method, target, body string
		code                       int
		upstream                   string // the request, as protojson; "" when not called
		response                   string // the answer's body, when it matters
	}{
		{name: "repeated floats, strings, enums, bytes, strings under **", method: "GET",
			target: "/v1/rep/1.5,-1.5/a,b,c/KIND_ROUND,2/AAE,_-8/segs/1,-2", code: 200,
			upstream: `{"floats":[1.5,-1.5],"strs":["a","b","c"],"kinds":["KIND_ROUND","KIND_SQUARE"],"blobs":["AAE=","/+8="],"segs":["segs/1","-2"]}`},
		{name: "escaped comma separates too (grpc-gateway decodes the path first)", method: "GET",
			target: "/v1/rep/1/x%2Cy/0/AA/segs/3", code: 200,
			upstream: `{"floats":[1],"strs":["x","y"],"kinds":["KIND_UNSPECIFIED"],"blobs":["AA=="],"segs":["segs/3"]}`},
		{name: "one element", method: "GET", target: "/v1/rep/2/a/KIND_SQUARE/AA/segs", code: 200,
			upstream: `{"floats":[2],"strs":["a"],"kinds":["KIND_SQUARE"],"blobs":["AA=="],"segs":["segs"]}`},
		{name: "bad element", method: "GET", target: "/v1/rep/1.5,x/a/0/AA/segs", code: 400},
		{name: "bad enum element", method: "GET", target: "/v1/rep/1/a/KIND_ROUND,KIND_NOPE/AA/segs", code: 400},
		{name: "nested scalar body", method: "POST", target: "/v1/nested/n1", body: `"hello"`, code: 200,
			upstream: `{"name":"nested/n1","payload":{"inputValue":"hello"}}`},
		{name: "nested scalar body, empty: the oneof member is selected", method: "POST", target: "/v1/nested/n1", code: 200,
			upstream: `{"name":"nested/n1","payload":{"inputValue":""}}`},
		{name: "nested scalar body of the wrong type", method: "POST", target: "/v1/nested/n1", body: `{"a":1}`, code: 400},
		{name: "nested scalar body, query may not set it", method: "POST", target: "/v1/nested/n1?payload.input_value=q&strs=s", body: `"b"`, code: 200,
			upstream: `{"name":"nested/n1","strs":["s"],"payload":{"inputValue":"b"}}`},
		{name: "nested message body and response_body, PATCH mask from the body", method: "PATCH", target: "/v1/nestedmsg/m1",
			body: `{"text":"t","n":3}`, code: 200,
			upstream: `{"name":"nestedmsg/m1","payload":{"inner":{"text":"t","n":3}},"updateMask":"n,text"}`,
			response: `{"text":"t","n":3}`},
		{name: "nested message body, empty object: empty mask", method: "PATCH", target: "/v1/nestedmsg/m1",
			body: `{}`, code: 200, upstream: `{"name":"nestedmsg/m1","payload":{"inner":{}},"updateMask":""}`, response: `{"text":"","n":0}`},
		{name: "nested message body, none: empty mask, as grpc-gateway sends it", method: "PATCH", target: "/v1/nestedmsg/m1",
			code: 200, upstream: `{"name":"nestedmsg/m1","payload":{"inner":{}},"updateMask":""}`},
	}
	for name, opts := range map[string][]transcoding.Option{"fast": nil, "protojson": {transcoding.WithProtojsonOnly()}} {
		t.Run(name, func(t *testing.T) {
			u := &recordingUpstream{}
			e := thingsEnvRoutes(t, u, snap, "gaps.v1", opts...)
			for _, tt := range tests {
				u.mu.Lock()
				u.last = nil
				u.mu.Unlock()
				r := e.do(t, tt.method, tt.target, tt.body)
				if r.code != tt.code {
					t.Errorf("%s: %d %s, want %d", tt.name, r.code, r.raw, tt.code)
					continue
				}
				if tt.upstream == "" {
					continue
				}
				m := dynamicpb.NewMessage(req)
				if err := proto.Unmarshal(u.request(), m); err != nil {
					t.Fatal(err)
				}
				got, err := protojson.Marshal(m)
				if err != nil {
					t.Fatal(err)
				}
				if !sameJSON(t, got, []byte(tt.upstream)) {
					t.Errorf("%s: upstream got %s, want %s", tt.name, got, tt.upstream)
				}
				if tt.response != "" && !sameJSON(t, r.raw, []byte(tt.response)) {
					t.Errorf("%s: response %s, want %s", tt.name, r.raw, tt.response)
				}
			}
		})
	}
}

// httpBodyFile adds to gapsFile a server-streamed and a client-streamed
// google.api.HttpBody method, as grpc-gateway's DownloadService and
// upload examples have.
func httpBodyFile() *descriptorpb.FileDescriptorProto {
	fd := gapsFile()
	fd.Dependency = append(fd.Dependency, "google/api/httpbody.proto")
	fd.Service[0].Method = append(fd.Service[0].Method,
		&descriptorpb.MethodDescriptorProto{Name: proto.String("Download"), InputType: proto.String(".gaps.v1.Req"),
			OutputType: proto.String(".google.api.HttpBody"), ServerStreaming: proto.Bool(true),
			Options: rule(&annotations.HttpRule{Pattern: &annotations.HttpRule_Get{Get: "/v1/{name=downloads/*}"}})},
		&descriptorpb.MethodDescriptorProto{Name: proto.String("Upload"), InputType: proto.String(".google.api.HttpBody"),
			OutputType: proto.String(".gaps.v1.Req"), ClientStreaming: proto.Bool(true),
			Options: rule(&annotations.HttpRule{Pattern: &annotations.HttpRule_Post{Post: "/v1/uploads"}, Body: "*"})},
		&descriptorpb.MethodDescriptorProto{Name: proto.String("UploadNoBodyRule"), InputType: proto.String(".google.api.HttpBody"),
			OutputType: proto.String(".gaps.v1.Req"), ClientStreaming: proto.Bool(true),
			Options: rule(&annotations.HttpRule{Pattern: &annotations.HttpRule_Post{Post: "/v1/uploads-no-body-rule"}})},
	)
	return fd
}

// TestServerStreamedHTTPBody: a server stream of google.api.HttpBody is
// written raw, chunk by chunk as the messages arrive, with the content
// type of the first message, as grpc-gateway's DownloadService example
// serves it.
func TestServerStreamedHTTPBody(t *testing.T) {
	gatewaytest.CheckLeaks(t)
	release := make(chan chan struct{}, 1)
	target := gatewaytest.StartUpstream(t, func(_ any, ss grpc.ServerStream) error {
		if err := ss.RecvMsg(new(frame.Frame)); err != nil {
			return err
		}
		chunks := []*httpbody.HttpBody{
			{ContentType: "text/csv", Data: []byte("a,b\n")},
			{Data: []byte("1,2\n")},
			{ContentType: "ignored/after-first", Data: []byte("3,4\n")},
		}
		for i, c := range chunks {
			b, err := proto.Marshal(c)
			if err != nil {
				return err
			}
			if err := ss.SendMsg(frame.FromBytes(b)); err != nil {
				return err
			}
			if i == 0 {
				// The first chunk must reach the client before the
				// upstream sends more.
				select {
				case <-<-release:
				case <-ss.Context().Done():
					return ss.Context().Err()
				}
			}
		}
		return nil
	}, grpc.ForceServerCodecV2(frame.Codec()))
	routes, err := transcoding.BuildRoutes(gapsSnapshot(t, httpBodyFile()), transcoding.WithStrictRoutes())
	if err != nil {
		t.Fatal(err)
	}
	e := startREST(t, routes, target, "gaps.v1", slog.DiscardHandler, newClient())
	for _, p := range protocols(e, t) {
		t.Run(p.name, func(t *testing.T) {
			ch := make(chan struct{})
			release <- ch
			res := e.open(t, context.Background(), p.client, "GET", "/v1/downloads/d1", nil, "Accept", "text/html, */*;q=0.8")
			defer res.Body.Close()
			if res.StatusCode != 200 || res.Header.Get("Content-Type") != "text/csv" {
				close(ch)
				t.Fatalf("status %d, Content-Type %q", res.StatusCode, res.Header.Get("Content-Type"))
			}
			first := make([]byte, 4)
			if _, err := io.ReadFull(res.Body, first); err != nil || string(first) != "a,b\n" {
				close(ch)
				t.Fatalf("first chunk %q, %v", first, err)
			}
			close(ch)
			rest, err := io.ReadAll(res.Body)
			if err != nil || string(rest) != "1,2\n3,4\n" {
				t.Errorf("rest of the body %q, %v; want %q", rest, err, "1,2\n3,4\n")
			}
		})
	}
}

// TestClientStreamedHTTPBody: a client stream of google.api.HttpBody is
// carried: the raw request body cut into chunks of at most 32 KiB as it
// arrives, the request's Content-Type in the first message only, each
// chunk read when the upstream asks for the next message.
func TestClientStreamedHTTPBody(t *testing.T) {
	gatewaytest.CheckLeaks(t)
	type got struct {
		chunks []*httpbody.HttpBody
	}
	calls := make(chan got, 4)
	target := gatewaytest.StartUpstream(t, func(_ any, ss grpc.ServerStream) error {
		var g got
		for {
			f := new(frame.Frame)
			err := ss.RecvMsg(f)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return err
			}
			hb := new(httpbody.HttpBody)
			if err := proto.Unmarshal(f.Bytes(), hb); err != nil {
				return err
			}
			g.chunks = append(g.chunks, hb)
		}
		calls <- g
		return ss.SendMsg(frame.FromBytes(nil)) // an empty Req
	}, grpc.ForceServerCodecV2(frame.Codec()))
	routes, err := transcoding.BuildRoutes(gapsSnapshot(t, httpBodyFile()), transcoding.WithStrictRoutes())
	if err != nil {
		t.Fatal(err)
	}
	e := startREST(t, routes, target, "gaps.v1", slog.DiscardHandler, newClient())

	// 100 KiB of varied bytes, sent in one request: at least four chunks,
	// none over 32 KiB, that together are the body.
	body := make([]byte, 100<<10)
	for i := range body {
		body[i] = byte(i * 7)
	}
	r := e.do(t, "POST", "/v1/uploads", string(body), "Content-Type", "image/png")
	if r.code != 200 {
		t.Fatalf("upload: %d %s", r.code, r.raw)
	}
	g := <-calls
	if len(g.chunks) < 4 {
		t.Fatalf("%d chunks, want at least 4", len(g.chunks))
	}
	var all []byte
	for i, c := range g.chunks {
		if len(c.GetData()) > 32<<10 || len(c.GetData()) == 0 {
			t.Errorf("chunk %d: %d bytes", i, len(c.GetData()))
		}
		want := ""
		if i == 0 {
			want = "image/png"
		}
		if c.GetContentType() != want {
			t.Errorf("chunk %d: content type %q, want %q", i, c.GetContentType(), want)
		}
		all = append(all, c.GetData()...)
	}
	if string(all) != string(body) {
		t.Errorf("the chunks (%d bytes) are not the body (%d bytes)", len(all), len(body))
	}

	// An empty body is one message with the content type.
	r = e.do(t, "POST", "/v1/uploads", "", "Content-Type", "text/plain")
	if r.code != 200 {
		t.Fatalf("empty upload: %d %s", r.code, r.raw)
	}
	g = <-calls
	if len(g.chunks) != 1 || g.chunks[0].GetContentType() != "text/plain" || len(g.chunks[0].GetData()) != 0 {
		t.Errorf("empty upload: chunks %v", g.chunks)
	}

	// A rule that names no body streams the body all the same.
	r = e.do(t, "POST", "/v1/uploads-no-body-rule", "hello", "Content-Type", "text/plain")
	if r.code != 200 {
		t.Fatalf("upload with no body rule: %d %s", r.code, r.raw)
	}
	g = <-calls
	if len(g.chunks) != 1 || g.chunks[0].GetContentType() != "text/plain" || string(g.chunks[0].GetData()) != "hello" {
		t.Errorf("upload with no body rule: chunks %v", g.chunks)
	}
}

// TestClientStreamedHTTPBodyBudget: the chunk buffer of an upload is held
// in the buffered-bytes budget while it is filled or waits to be taken, so
// with a budget of one chunk a second upload is refused (429) while the
// first one is under way (its upstream holding the first chunk, the proxy
// waiting for the next), and served once the first ended.
func TestClientStreamedHTTPBodyBudget(t *testing.T) {
	gatewaytest.CheckLeaks(t)
	var calls atomic.Int32
	gotFirst, release := make(chan struct{}), make(chan struct{})
	target := gatewaytest.StartUpstream(t, func(_ any, ss grpc.ServerStream) error {
		first := calls.Add(1) == 1
		n := 0
		for {
			err := ss.RecvMsg(new(frame.Frame))
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return err
			}
			if n++; n == 1 && first {
				close(gotFirst)
				select {
				case <-release:
				case <-ss.Context().Done():
					return ss.Context().Err()
				}
			}
		}
		return ss.SendMsg(frame.FromBytes(nil))
	}, grpc.ForceServerCodecV2(frame.Codec()))
	routes, err := transcoding.BuildRoutes(gapsSnapshot(t, httpBodyFile()), transcoding.WithStrictRoutes())
	if err != nil {
		t.Fatal(err)
	}
	const chunk = 32 << 10
	e := startREST(t, routes, target, "gaps.v1", slog.DiscardHandler, newClient(),
		transcoding.WithMaxBodyBytes(chunk), transcoding.WithMaxBufferedBytes(chunk))

	pr, pw := io.Pipe()
	done := make(chan response, 1)
	go func() {
		req, _ := http.NewRequest("POST", e.base+"/v1/uploads", pr)
		req.Header.Set("Content-Type", "application/octet-stream")
		res, err := e.client.Do(req)
		if err != nil {
			done <- response{code: -1, raw: []byte(err.Error())}
			return
		}
		raw, _ := io.ReadAll(res.Body)
		_ = res.Body.Close()
		done <- response{code: res.StatusCode, raw: raw}
	}()
	if _, err := pw.Write(make([]byte, chunk)); err != nil {
		t.Fatal(err)
	}
	select {
	case <-gotFirst:
	case <-time.After(20 * time.Second):
		t.Fatal("the first chunk never reached the upstream")
	}
	r := e.do(t, "POST", "/v1/uploads", "x", "Content-Type", "text/plain")
	if r.code != 429 {
		t.Errorf("second upload while the first holds the budget: %d %s, want 429", r.code, r.raw)
	}
	close(release)
	_ = pw.Close()
	if r := <-done; r.code != 200 {
		t.Fatalf("first upload: %d %s", r.code, r.raw)
	}
	if r := e.do(t, "POST", "/v1/uploads", "x", "Content-Type", "text/plain"); r.code != 200 {
		t.Errorf("upload after the first ended: %d %s", r.code, r.raw)
	}
}

// TestPatchMaskAnyName: a PATCH fills the request's one FieldMask field
// from the body's keys whatever the field's name, and none when the
// request has two, as grpc-gateway's generated handlers do.
func TestPatchMaskAnyName(t *testing.T) {
	snap := gapsSnapshot(t)
	for name, opts := range map[string][]transcoding.Option{"fast": nil, "protojson": {transcoding.WithProtojsonOnly()}} {
		t.Run(name, func(t *testing.T) {
			u := &recordingUpstream{}
			e := thingsEnvRoutes(t, u, snap, "gaps.v1", opts...)
			for _, tt := range []struct{ target, msg, want string }{
				{"/v1/others/o1", "gaps.v1.Other", `{"name":"others/o1","body":{"text":"t"},"fieldMask":"text"}`},
				{"/v1/twos/t1", "gaps.v1.Two", `{"name":"twos/t1","body":{"text":"t"}}`},
			} {
				r := e.do(t, "PATCH", tt.target, `{"text":"t"}`)
				if r.code != 200 {
					t.Fatalf("%s: %d %s", tt.target, r.code, r.raw)
				}
				m := dynamicpb.NewMessage(thingDescriptor(t, snap, tt.msg))
				if err := proto.Unmarshal(u.request(), m); err != nil {
					t.Fatal(err)
				}
				got, err := protojson.Marshal(m)
				if err != nil {
					t.Fatal(err)
				}
				if !sameJSON(t, got, []byte(tt.want)) {
					t.Errorf("%s: upstream got %s, want %s", tt.target, got, tt.want)
				}
			}
		})
	}
}

// noBodyStreamFile adds to gapsFile a client stream and a bidirectional
// stream whose rules name no body, as grpc-gateway's FlowCombination
// example has (StreamEmptyRpc, StreamEmptyStream).
func noBodyStreamFile() *descriptorpb.FileDescriptorProto {
	fd := gapsFile()
	fd.Service[0].Method = append(fd.Service[0].Method,
		&descriptorpb.MethodDescriptorProto{Name: proto.String("Collect"), InputType: proto.String(".gaps.v1.Req"),
			OutputType: proto.String(".gaps.v1.Req"), ClientStreaming: proto.Bool(true),
			Options: rule(&annotations.HttpRule{Pattern: &annotations.HttpRule_Post{Post: "/v1/collect"}})},
		&descriptorpb.MethodDescriptorProto{Name: proto.String("Chat"), InputType: proto.String(".gaps.v1.Req"),
			OutputType: proto.String(".gaps.v1.Req"), ClientStreaming: proto.Bool(true), ServerStreaming: proto.Bool(true),
			Options: rule(&annotations.HttpRule{Pattern: &annotations.HttpRule_Post{Post: "/v1/chat"}})},
	)
	return fd
}

// TestClientStreamWithoutBodyRule: a client stream whose rule names no
// body still takes its messages from the body, each JSON value one whole
// message, empty objects included ({} {} is two messages, not one), as
// grpc-gateway's handlers read it; the query binds nothing, as there.
func TestClientStreamWithoutBodyRule(t *testing.T) {
	gatewaytest.CheckLeaks(t)
	snap := gapsSnapshot(t, noBodyStreamFile())
	reqType := thingDescriptor(t, snap, "gaps.v1.Req")
	calls := make(chan []string, 4)
	target := gatewaytest.StartUpstream(t, func(_ any, ss grpc.ServerStream) error {
		bidi := strings.HasSuffix(grpc.ServerTransportStreamFromContext(ss.Context()).Method(), "/Chat")
		var names []string
		for {
			f := new(frame.Frame)
			err := ss.RecvMsg(f)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return err
			}
			m := dynamicpb.NewMessage(reqType)
			if err := proto.Unmarshal(f.Bytes(), m); err != nil {
				return err
			}
			names = append(names, m.Get(reqType.Fields().ByName("name")).String())
			if bidi {
				if err := ss.SendMsg(f); err != nil {
					return err
				}
			} else {
				f.Free()
			}
		}
		calls <- names
		if bidi {
			return nil
		}
		return ss.SendMsg(frame.FromBytes(nil))
	}, grpc.ForceServerCodecV2(frame.Codec()))
	routes, err := transcoding.BuildRoutes(snap, transcoding.WithStrictRoutes())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, body string
		want       []string // the name of each message the upstream got
	}{
		{"two empty objects", "{} {}", []string{"", ""}},
		{"three empty objects, NDJSON", "{}\n{}\n{}\n", []string{"", "", ""}},
		{"named and empty", `{"name":"a"}{}` + "\n" + `{"name":"b"}`, []string{"a", "", "b"}},
		{"one empty object", "{}", []string{""}},
		{"no body: no message", "", nil},
	}
	for name, opts := range map[string][]transcoding.Option{"fast": nil, "protojson": {transcoding.WithProtojsonOnly()}} {
		t.Run(name, func(t *testing.T) {
			e := startREST(t, routes, target, "gaps.v1", slog.DiscardHandler, newClient(), opts...)
			for _, tt := range tests {
				for _, path := range []string{"/v1/collect?name=q", "/v1/chat?name=q"} {
					r := e.do(t, "POST", path, tt.body, "Content-Type", "application/json")
					if r.code != 200 {
						t.Fatalf("%s %s: %d %s", tt.name, path, r.code, r.raw)
					}
					if got := <-calls; fmt.Sprint(got) != fmt.Sprint(tt.want) || len(got) != len(tt.want) {
						t.Errorf("%s %s: the upstream got %d messages named %q, want %d named %q", tt.name, path, len(got), got, len(tt.want), tt.want)
					}
					if path == "/v1/chat?name=q" {
						if n := strings.Count(string(r.raw), `"result"`); n != len(tt.want) {
							t.Errorf("%s %s: %d messages back, want %d: %s", tt.name, path, n, len(tt.want), r.raw)
						}
					}
				}
			}
		})
	}
}

// typedPathFile adds to gapsFile a binding with top-level scalar and enum
// path variables and a nested one:
//
//	message Typed {
//	  int32 n = 1; Kind kind = 2; Inner inner = 3; Kind other = 4;
//	  oneof choice { Inner a = 5; string b = 6; }
//	}
//	rpc Typed(Typed) returns (Typed) { get: "/v1/typed/{n}/{kind}/{inner.n}" }
//	rpc Choose(Typed) returns (Typed) {
//	  put: "/v1/choose/{n}" body: "a"
//	  additional_bindings { put: "/v1/choose-b/{b}" body: "a" }
//	}
func typedPathFile() *descriptorpb.FileDescriptorProto {
	fd := gapsFile()
	enumT := descriptorpb.FieldDescriptorProto_TYPE_ENUM
	a := field("a", 5, descriptorpb.FieldDescriptorProto_TYPE_MESSAGE, ".gaps.v1.Inner", optional)
	a.OneofIndex = proto.Int32(0)
	b := field("b", 6, descriptorpb.FieldDescriptorProto_TYPE_STRING, "", optional)
	b.OneofIndex = proto.Int32(0)
	fd.MessageType = append(fd.MessageType, &descriptorpb.DescriptorProto{Name: proto.String("Typed"), Field: []*descriptorpb.FieldDescriptorProto{
		field("n", 1, descriptorpb.FieldDescriptorProto_TYPE_INT32, "", optional),
		field("kind", 2, enumT, ".gaps.v1.Kind", optional),
		field("inner", 3, descriptorpb.FieldDescriptorProto_TYPE_MESSAGE, ".gaps.v1.Inner", optional),
		field("other", 4, enumT, ".gaps.v1.Kind", optional),
		a, b,
	}, OneofDecl: []*descriptorpb.OneofDescriptorProto{{Name: proto.String("choice")}}})
	method := func(name string, r *annotations.HttpRule) *descriptorpb.MethodDescriptorProto {
		return &descriptorpb.MethodDescriptorProto{Name: proto.String(name), InputType: proto.String(".gaps.v1.Typed"),
			OutputType: proto.String(".gaps.v1.Typed"), Options: rule(r)}
	}
	fd.Service[0].Method = append(fd.Service[0].Method,
		method("Typed", &annotations.HttpRule{Pattern: &annotations.HttpRule_Get{Get: "/v1/typed/{n}/{kind}/{inner.n}"}}),
		method("Choose", &annotations.HttpRule{Pattern: &annotations.HttpRule_Put{Put: "/v1/choose/{n}"}, Body: "a",
			AdditionalBindings: []*annotations.HttpRule{{Pattern: &annotations.HttpRule_Put{Put: "/v1/choose-b/{b}"}, Body: "a"}}}))
	return fd
}

// TestPathVariableErrorWording: a path value that does not parse is
// worded as grpc-gateway's generated handlers word it: the parser's own
// error for a top-level field (the runtime's Int32, Enum, Float32Slice...
// conversions), the query's wording for a nested one (which goes through
// runtime.PopulateFieldFromPath). Query parameters keep the query's.
func TestPathVariableErrorWording(t *testing.T) {
	snap := gapsSnapshot(t, typedPathFile())
	tests := []struct{ target, want string }{
		{"/v1/typed/x/KIND_ROUND/1", `type mismatch, parameter: n, error: strconv.ParseInt: parsing "x": invalid syntax`},
		{"/v1/typed/2147483648/KIND_ROUND/1", `type mismatch, parameter: n, error: strconv.ParseInt: parsing "2147483648": value out of range`},
		{"/v1/typed/1/KIND_NOPE/1", `type mismatch, parameter: kind, error: KIND_NOPE is not valid`},
		{"/v1/typed/1/7/1", `type mismatch, parameter: kind, error: 7 is not valid`},
		{"/v1/typed/1/KIND_ROUND/x", `type mismatch, parameter: inner.n, error: parsing field "n": strconv.ParseInt: parsing "x": invalid syntax`},
		{"/v1/typed/1/KIND_ROUND/1?other=NOPE", `parsing field "other": "NOPE" is not a valid value`},
		{"/v1/rep/1.5,x/a/0/AA/segs", `type mismatch, parameter: floats, error: strconv.ParseFloat: parsing "x": invalid syntax`},
		{"/v1/rep/1/a/KIND_ROUND,KIND_NOPE/AA/segs", `type mismatch, parameter: kinds, error: KIND_NOPE is not valid`},
	}
	for name, opts := range map[string][]transcoding.Option{"fast": nil, "protojson": {transcoding.WithProtojsonOnly()}} {
		t.Run(name, func(t *testing.T) {
			e := thingsEnvRoutes(t, &recordingUpstream{}, snap, "gaps.v1", opts...)
			for _, tt := range tests {
				r := e.do(t, "GET", tt.target, "")
				if r.code != 400 || r.json["message"] != tt.want {
					t.Errorf("GET %s: %d %q, want 400 %q", tt.target, r.code, r.json["message"], tt.want)
				}
			}
		})
	}
}

// TestBodyOneofMemberAndQuery: when the body binds a oneof member and the
// query or the path sets another member of the same oneof, the request is
// refused, as grpc-gateway refuses it, in both codec modes (the fast one
// built the query apart from the body, so the query's member replaced the
// body's).
func TestBodyOneofMemberAndQuery(t *testing.T) {
	snap := gapsSnapshot(t, typedPathFile())
	typed := thingDescriptor(t, snap, "gaps.v1.Typed")
	tests := []struct {
		target, body string
		code         int
		message      string // the error's, when code is not 200
		upstream     string // the request, as protojson, when 200
	}{
		{target: "/v1/choose/1", body: `{"text":"t"}`, code: 200, upstream: `{"n":1,"a":{"text":"t"}}`},
		{target: "/v1/choose/1?other=KIND_ROUND", body: `{"text":"t"}`, code: 200, upstream: `{"n":1,"other":"KIND_ROUND","a":{"text":"t"}}`},
		{target: "/v1/choose/1?b=q", body: `{"text":"t"}`, code: 400, message: `field already set for oneof "choice"`},
		{target: "/v1/choose/1?b=q", body: `{}`, code: 400, message: `field already set for oneof "choice"`},
		{target: "/v1/choose-b/p", body: `{"text":"t"}`, code: 400, message: `type mismatch, parameter: b, error: field already set for oneof "choice"`},
	}
	for name, opts := range map[string][]transcoding.Option{"fast": nil, "protojson": {transcoding.WithProtojsonOnly()}} {
		t.Run(name, func(t *testing.T) {
			u := &recordingUpstream{}
			e := thingsEnvRoutes(t, u, snap, "gaps.v1", opts...)
			for _, tt := range tests {
				r := e.do(t, "PUT", tt.target, tt.body, "Content-Type", "application/json")
				if r.code != tt.code {
					t.Errorf("PUT %s %s: %d %s, want %d", tt.target, tt.body, r.code, r.raw, tt.code)
					continue
				}
				if tt.code != 200 {
					if r.json["message"] != tt.message {
						t.Errorf("PUT %s %s: message %q, want %q", tt.target, tt.body, r.json["message"], tt.message)
					}
					continue
				}
				m := dynamicpb.NewMessage(typed)
				if err := proto.Unmarshal(u.request(), m); err != nil {
					t.Fatal(err)
				}
				if got, _ := protojson.Marshal(m); !sameJSON(t, got, []byte(tt.upstream)) {
					t.Errorf("PUT %s %s: upstream got %s, want %s", tt.target, tt.body, got, tt.upstream)
				}
			}
		})
	}
}
