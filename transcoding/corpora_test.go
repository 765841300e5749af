package transcoding_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/sluice-dev/sluice/registry"
	"github.com/sluice-dev/sluice/transcoding"
	"github.com/sluice-dev/sluice/transcoding/httprule"
)

// The corpora are real contract sets, built by scripts/corpora/build.sh
// (`make corpora`) into a git-ignored directory: Google's published APIs
// (about 15,000 bindings) and grpc-gateway's example protos.
const corporaDir = "../scripts/corpora/out"

// corpus returns the path of a corpus descriptor set, skipping the test
// when it has not been built or when the race detector would make loading
// Google's set cost gigabytes (`make test` runs these tests again without
// it).
func corpus(t testing.TB, name string) string {
	t.Helper()
	path := filepath.Join(corporaDir, name)
	if _, err := os.Stat(path); err != nil {
		t.Skipf("corpus %s not built; run scripts/corpora/build.sh (make corpora): %v", path, err)
	}
	if raceEnabled && name == "googleapis.binpb" {
		t.Skip("Google's corpus is not loaded under the race detector (memory); `make test` runs this test without it")
	}
	return path
}

// countBindings counts the google.api.http rules of a descriptor set and
// their additional_bindings (nested ones included), independently of the
// registry and of BuildRoutes.
func countBindings(t testing.TB, path string) int {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var set descriptorpb.FileDescriptorSet
	if err := proto.Unmarshal(raw, &set); err != nil {
		t.Fatal(err)
	}
	var count func(r *annotations.HttpRule) int
	count = func(r *annotations.HttpRule) int {
		n := 1
		for _, a := range r.GetAdditionalBindings() {
			n += count(a)
		}
		return n
	}
	n := 0
	for _, f := range set.GetFile() {
		for _, s := range f.GetService() {
			for _, m := range s.GetMethod() {
				if r, ok := proto.GetExtension(m.GetOptions(), annotations.E_Http).(*annotations.HttpRule); ok && r != nil && r.GetPattern() != nil {
					n += count(r)
				}
			}
		}
	}
	return n
}

func loadCorpus(t testing.TB, path string) *transcoding.Routes {
	t.Helper()
	snap, err := registry.Build(registry.DescriptorSetFile(path))
	if err != nil {
		t.Fatalf("load %s: %v", path, err)
	}
	routes, err := transcoding.BuildRoutes(snap)
	if err != nil {
		t.Fatalf("routes of %s: %v", path, err)
	}
	return routes
}

// TestCorporaEveryBindingAccountedFor checks that every binding of both
// corpora is routed or reported: the route table has one row per rule and
// additional binding of the descriptor set, and every row that is not
// served says why.
func TestCorporaEveryBindingAccountedFor(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"googleapis.binpb", "grpc-gateway.binpb"} {
		t.Run(name, func(t *testing.T) {
			path := corpus(t, name)
			want := countBindings(t, path)
			routes := loadCorpus(t, path)
			all := routes.All()
			if len(all) != want {
				t.Errorf("route table has %d rows, the descriptor set %d bindings", len(all), want)
			}
			var ok, shadowed, skipped int
			for _, r := range all {
				switch r.Status {
				case transcoding.RouteOK:
					ok++
				case transcoding.RouteShadowed:
					shadowed++
				case transcoding.RouteSkipped:
					skipped++
				}
				if r.Status != transcoding.RouteOK && (r.Reason == "" || r.Err() == nil) {
					t.Errorf("%s %s of %s is not served and says not why", r.HTTPMethod, r.Template, r.Method)
				}
			}
			if len(routes.List()) != ok {
				t.Errorf("List has %d routes, All %d served ones", len(routes.List()), ok)
			}
			t.Logf("%s: %d bindings: %d served, %d shadowed, %d skipped", name, want, ok, shadowed, skipped)
		})
	}
}

// TestCorporaHardTemplates matches requests against the templates that
// used to stop the gateway from loading these corpora ("**" followed by
// more segments, verbs with a ':') and checks the method and the fields
// bound, as the spec and grpc-gateway read them.
func TestCorporaHardTemplates(t *testing.T) {
	t.Parallel()
	const (
		firestore = "/google.firestore.v1.Firestore/"
		kms       = "/google.cloud.kms.v1.KeyManagementService/"
		abe       = "/grpc.gateway.examples.internal.proto.examplepb.ABitOfEverythingService/"
	)
	tests := []struct {
		corpus, method, path string
		rpc                  string
		vars                 []string
	}{
		// Firestore: "**" followed by a variable.
		{"googleapis.binpb", "POST", "/v1/projects/p/databases/d/documents/users", firestore + "CreateDocument",
			[]string{"parent=projects/p/databases/d/documents", "collection_id=users"}},
		{"googleapis.binpb", "POST", "/v1/projects/p/databases/d/documents/users/alice/orders", firestore + "CreateDocument",
			[]string{"parent=projects/p/databases/d/documents/users/alice", "collection_id=orders"}},
		{"googleapis.binpb", "GET", "/v1/projects/p/databases/d/documents/users/alice/orders", firestore + "ListDocuments",
			[]string{"parent=projects/p/databases/d/documents/users/alice", "collection_id=orders"}},
		{"googleapis.binpb", "DELETE", "/v1/projects/p/databases/d/documents/users/alice", firestore + "DeleteDocument",
			[]string{"name=projects/p/databases/d/documents/users/alice"}},
		{"googleapis.binpb", "PATCH", "/v1/projects/p/databases/(default)/documents/users/alice", firestore + "UpdateDocument",
			[]string{"document.name=projects/p/databases/(default)/documents/users/alice"}},
		{"googleapis.binpb", "POST", "/v1/projects/p/databases/d/documents/users/alice:runQuery", firestore + "RunQuery",
			[]string{"parent=projects/p/databases/d/documents/users/alice"}},
		{"googleapis.binpb", "POST", "/v1/projects/p/databases/d/documents:runQuery", firestore + "RunQuery",
			[]string{"parent=projects/p/databases/d/documents"}},
		// KMS inventory: "**" followed by a literal.
		{"googleapis.binpb", "GET", "/v1/projects/p/locations/global/keyRings/k/cryptoKeys/c/protectedResourcesSummary",
			"/google.cloud.kms.inventory.v1.KeyTrackingService/GetProtectedResourcesSummary",
			[]string{"name=projects/p/locations/global/keyRings/k/cryptoKeys/c"}},
		{"googleapis.binpb", "POST", "/v1/projects/p/locations/global/keyRings/k/cryptoKeys/c:encrypt", kms + "Encrypt",
			[]string{"name=projects/p/locations/global/keyRings/k/cryptoKeys/c"}},
		// Managed Kafka schema registry: "**" followed by a literal.
		{"googleapis.binpb", "GET", "/v1/projects/p/locations/l/schemaRegistries/r/schemas/a/b/versions",
			"/google.cloud.managedkafka.schemaregistry.v1.ManagedSchemaRegistry/ListSchemaVersions",
			[]string{"parent=projects/p/locations/l/schemaRegistries/r/schemas/a/b"}},
		// Remote workers: "**" first in a variable.
		{"googleapis.binpb", "PATCH", "/v1test2/projects/p/instances/i/botSessions/b",
			"/google.devtools.remoteworkers.v1test2.Bots/UpdateBotSession", []string{"name=projects/p/instances/i/botSessions/b"}},
		{"googleapis.binpb", "PATCH", "/v1test2/botSessions/b",
			"/google.devtools.remoteworkers.v1test2.Bots/UpdateBotSession", []string{"name=botSessions/b"}},
		{"googleapis.binpb", "POST", "/v1test2/projects/p/instances/i/botSessions",
			"/google.devtools.remoteworkers.v1test2.Bots/CreateBotSession", []string{"parent=projects/p/instances/i"}},
		// grpc-gateway: a verb with a ':'.
		{"grpc-gateway.binpb", "POST", "/v1/example/a_bit_of_everything/0f3e:custom:custom", abe + "DoubleColon", []string{"uuid=0f3e"}},
		{"grpc-gateway.binpb", "POST", "/v1/example/a_bit_of_everything/0f3e:custom", abe + "Custom", []string{"uuid=0f3e"}},
		{"grpc-gateway.binpb", "GET", "/v1/example/a_bit_of_everything/0f3e", abe + "Lookup", []string{"uuid=0f3e"}},
		{"grpc-gateway.binpb", "PATCH", "/v1/publishers/p1/books/b1", abe + "UpdateBook", []string{"book.name=publishers/p1/books/b1"}},
	}
	routers := map[string]*httprule.Router{}
	for _, name := range []string{"googleapis.binpb", "grpc-gateway.binpb"} {
		routers[name] = servedRouter(t, corpus(t, name))
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			t.Parallel()
			m, res := routers[tt.corpus].Match(tt.method, tt.path)
			if res != httprule.Found {
				t.Fatalf("%v, want Found", res)
			}
			if got := m.Route.Value.(transcoding.Route).Method; got != tt.rpc {
				t.Errorf("method %s, want %s", got, tt.rpc)
			}
			var vars []string
			for _, v := range m.Vars {
				vars = append(vars, strings.Join(v.FieldPath, ".")+"="+v.Value)
			}
			if strings.Join(vars, " ") != strings.Join(tt.vars, " ") {
				t.Errorf("vars %q, want %q", vars, tt.vars)
			}
		})
	}
}

// servedRouter builds a router, as BuildRoutes does, over the served
// routes of a corpus, each route's Value its transcoding.Route.
func servedRouter(t testing.TB, path string) *httprule.Router {
	t.Helper()
	b := httprule.NewBuilder()
	for _, r := range loadCorpus(t, path).List() {
		tmpl, err := httprule.Parse(r.Template)
		if err != nil {
			t.Fatalf("served template %s does not parse: %v", r.Template, err)
		}
		if err := b.Add(httprule.Route{Method: r.HTTPMethod, Template: tmpl, Value: r, Source: r.Source}); err != nil {
			t.Fatalf("served routes collide: %v", err)
		}
	}
	return b.Build()
}
