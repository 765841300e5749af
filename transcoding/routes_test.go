package transcoding_test

import (
	"strings"
	"testing"

	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/sluice-dev/sluice/registry"
	"github.com/sluice-dev/sluice/transcoding"
)

// serviceFile declares, in its own file and package, a service whose
// methods take and return things.v1.Thing, one per rule.
func serviceFile(path, pkg string, rules ...*annotations.HttpRule) *descriptorpb.FileDescriptorProto {
	svc := &descriptorpb.ServiceDescriptorProto{Name: proto.String("Svc")}
	for i, r := range rules {
		svc.Method = append(svc.Method, &descriptorpb.MethodDescriptorProto{
			Name:       proto.String("M" + string(rune('a'+i))),
			InputType:  proto.String(".things.v1.Thing"),
			OutputType: proto.String(".things.v1.Thing"),
			Options:    rule(r),
		})
	}
	return &descriptorpb.FileDescriptorProto{
		Name:       proto.String(path),
		Package:    proto.String(pkg),
		Syntax:     proto.String("proto3"),
		Dependency: []string{"google/api/annotations.proto", "things/v1/things.proto"},
		Service:    []*descriptorpb.ServiceDescriptorProto{svc},
	}
}

func routeRows(routes *transcoding.Routes) []string {
	var rows []string
	for _, r := range routes.All() {
		rows = append(rows, r.HTTPMethod+" "+r.Template+" "+r.Method+" "+r.StatusText())
	}
	return rows
}

// TestBuildRoutesNeverFailsOnOneBinding checks that a binding that cannot be
// served is skipped and one that collides is shadowed, each reported with
// its method, file and reason (the winner named), while the others are
// served; every binding has one row.
func TestBuildRoutesNeverFailsOnOneBinding(t *testing.T) {
	t.Parallel()
	get, _, _ := defaultThingRules()
	create := &annotations.HttpRule{Pattern: &annotations.HttpRule_Post{Post: "/v1/things"}, Body: "missing",
		AdditionalBindings: []*annotations.HttpRule{
			{Pattern: &annotations.HttpRule_Post{Post: "/v1/things:create"}, Body: "*"},
			{Pattern: &annotations.HttpRule_Get{Get: "/v1/{nope}"}},
			{Pattern: &annotations.HttpRule_Post{Post: "/v1/x"}, AdditionalBindings: []*annotations.HttpRule{
				{Pattern: &annotations.HttpRule_Post{Post: "/v1/y"}},
			}},
		}}
	update := &annotations.HttpRule{Pattern: &annotations.HttpRule_Get{Get: "/v1/{child.name=things/*}"}}
	routes, err := transcoding.BuildRoutes(thingsSnapshot(t, func() (_, _, _ *annotations.HttpRule) { return get, create, update }))
	if err != nil {
		t.Fatalf("BuildRoutes: %v", err)
	}
	want := []string{
		"POST /v1/things /things.v1.ThingService/CreateThing skipped: body \"missing\": things.v1.Thing has no field \"missing\"",
		"POST /v1/things:create /things.v1.ThingService/CreateThing ok",
		"POST /v1/x /things.v1.ThingService/CreateThing skipped: an additional binding may not have additional_bindings of its own",
		"POST /v1/y /things.v1.ThingService/CreateThing skipped: additional_bindings may nest only one level deep",
		"GET /v1/{child.name=things/*} /things.v1.ThingService/UpdateThing ok",
		"GET /v1/{name=things/*} /things.v1.ThingService/GetThing shadowed by GET /v1/{child.name=things/*} of things.v1.ThingService.UpdateThing in things/v1/things.proto (things.binpb)",
		"GET /v1/{nope} /things.v1.ThingService/CreateThing skipped: template /v1/{nope}: variable nope: things.v1.Thing has no field \"nope\"",
	}
	if got := routeRows(routes); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("rows:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if n := len(routes.List()); n != 2 {
		t.Errorf("List has %d routes, want the 2 served", n)
	}
	problems := routes.Problems()
	if len(problems) != 5 {
		t.Fatalf("%d problems, want 5: %v", len(problems), problems)
	}
	for _, p := range problems {
		for _, w := range []string{"things/v1/things.proto", "things.v1.ThingService."} {
			if !strings.Contains(p.Error(), w) {
				t.Errorf("problem %q does not name %q", p, w)
			}
		}
	}

	// Strict: the same contracts are refused, every problem listed.
	_, err = transcoding.BuildRoutes(thingsSnapshot(t, func() (_, _, _ *annotations.HttpRule) { return get, create, update }),
		transcoding.WithStrictRoutes())
	if err == nil {
		t.Fatal("strict BuildRoutes: no error")
	}
	if n := strings.Count(err.Error(), "REST binding "); n != 5 {
		t.Errorf("strict error lists %d bindings, want 5:\n%v", n, err)
	}
}

// TestBuildRoutesCollisionWinner checks that of identical bindings the one
// declared last wins (files by path, then declaration order), whatever the
// order of the files in the descriptor set, and that every loser names the
// final winner.
func TestBuildRoutesCollisionWinner(t *testing.T) {
	t.Parallel()
	things := thingsFile(defaultThingRules())
	same := func() *annotations.HttpRule {
		return &annotations.HttpRule{Pattern: &annotations.HttpRule_Get{Get: "/v1/{name=things/*}"}}
	}
	alpha := serviceFile("alpha/v1/alpha.proto", "alpha.v1", same())
	zeta := serviceFile("zeta/v1/zeta.proto", "zeta.v1", same(), same())
	for _, order := range [][]*descriptorpb.FileDescriptorProto{{things, alpha, zeta}, {zeta, alpha, things}, {alpha, zeta, things}} {
		var names []string
		for _, f := range order {
			names = append(names, f.GetName())
		}
		t.Run(strings.Join(names, ","), func(t *testing.T) {
			t.Parallel()
			snap, err := registry.Build(registry.DescriptorSet("set.binpb", descriptorSet(t, order...)))
			if err != nil {
				t.Fatal(err)
			}
			routes, err := transcoding.BuildRoutes(snap)
			if err != nil {
				t.Fatal(err)
			}
			winner := "GET /v1/{name=things/*} of zeta.v1.Svc.Mb in zeta/v1/zeta.proto (set.binpb)"
			var served []string
			shadowed := 0
			for _, r := range routes.All() {
				if r.Template != "/v1/{name=things/*}" || r.HTTPMethod != "GET" {
					continue
				}
				switch r.Status {
				case transcoding.RouteOK:
					served = append(served, r.Method)
				case transcoding.RouteShadowed:
					shadowed++
					if r.Reason != winner {
						t.Errorf("%s shadowed by %q, want %q", r.Method, r.Reason, winner)
					}
				default:
					t.Errorf("%s: %s", r.Method, r.StatusText())
				}
			}
			if len(served) != 1 || served[0] != "/zeta.v1.Svc/Mb" || shadowed != 3 {
				t.Errorf("served %q with %d shadowed, want [/zeta.v1.Svc/Mb] with 3", served, shadowed)
			}
		})
	}
}
