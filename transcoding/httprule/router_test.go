package httprule_test

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/sluice-dev/sluice/transcoding/httprule"
)

// libraryRoutes covers every template shape; each route's Value and Source
// is its name.
var libraryRoutes = []struct{ method, tmpl, name string }{
	{"GET", "/", "Root"},
	{"GET", "/v1/shelves", "ListShelves"},
	{"POST", "/v1/shelves", "CreateShelf"},
	{"LIST", "/v1/shelves", "CustomList"},
	{"GET", "/v1/{name=shelves/*}", "GetShelf"},
	{"DELETE", "/v1/{name=shelves/*}", "DeleteShelf"},
	{"POST", "/v1/{name=shelves/*}:archive", "ArchiveShelf"},
	{"GET", "/v1/shelves/special", "Special"},
	{"GET", "/v1/{book.name=shelves/*/books/*}", "GetBook"},
	{"GET", "/v1/{shelf}/info", "ShelfInfo"},
	{"GET", "/v1/{name=files/**}", "GetFile"},
	{"GET", "/v1/{name=operations/**}", "GetOperation"},
	{"POST", "/v1/{name=operations/**}:cancel", "CancelOperation"},
	{"GET", "/v2/{name=a/*/b/**}", "Deep"},
	{"GET", "/p/{a}/x", "StarX"},
	{"GET", "/p/lit/x", "LitX"},
	{"GET", "/p/lit/{b=**}", "LitDeep"},
	{"GET", "/p/{c=**}", "AnyDeep"},
	{"GET", "/q/*/**:v", "AnonymousVerb"},
	// "**" followed by more segments, from Google's APIs (Firestore, KMS,
	// Remote Build Execution), and verbs with a ':' (grpc-gateway's
	// ABitOfEverything).
	{"GET", "/v1/{name=projects/*/databases/*/documents/*/**}", "GetDocument"},
	{"GET", "/v1/{parent=projects/*/databases/*/documents/*/**}/{collection_id}", "ListDocuments"},
	{"POST", "/v1/{parent=projects/*/databases/*/documents/**}/{collection_id}", "CreateDocument"},
	{"GET", "/v1/{name=projects/*/locations/*/keyRings/*/cryptoKeys/**}/protectedResourcesSummary", "KeySummary"},
	{"PATCH", "/v1test2/{name=**/botSessions/*}", "UpdateBotSession"},
	{"POST", "/v1test2/{parent=**}/botSessions", "CreateBotSession"},
	{"GET", "/v1/example/{uuid}:custom:custom", "CustomCustom"},
	{"GET", "/v1/example/{uuid}:custom", "Custom"},
	{"GET", "/r/{a=**}/x/{b}:v", "DeepVerb"},
}

func newLibraryRouter(tb testing.TB, opts ...httprule.Option) *httprule.Router {
	tb.Helper()
	b := httprule.NewBuilder(opts...)
	for _, r := range libraryRoutes {
		tmpl, err := httprule.Parse(r.tmpl)
		if err != nil {
			tb.Fatal(err)
		}
		if err := b.Add(httprule.Route{Method: r.method, Template: tmpl, Value: r.name, Source: r.name}); err != nil {
			tb.Fatal(err)
		}
	}
	return b.Build()
}

// v renders vars as "field.path=value" pairs for compact expectations.
func v(vars []httprule.Var) []string {
	var out []string
	for _, x := range vars {
		out = append(out, strings.Join(x.FieldPath, ".")+"="+x.Value)
	}
	return out
}

func TestMatch(t *testing.T) {
	t.Parallel()
	router := newLibraryRouter(t)
	tests := []struct {
		method, path string
		result       httprule.MatchResult
		route        string   // Found
		vars         []string // Found
		allow        []string // MethodNotAllowed
	}{
		// Literals, custom methods, the root.
		{"GET", "/", httprule.Found, "Root", nil, nil},
		{"GET", "/v1/shelves", httprule.Found, "ListShelves", nil, nil},
		{"POST", "/v1/shelves", httprule.Found, "CreateShelf", nil, nil},
		{"LIST", "/v1/shelves", httprule.Found, "CustomList", nil, nil},
		{"get", "/v1/shelves", httprule.MethodNotAllowed, "", nil, []string{"GET", "LIST", "POST"}},

		// "*" and multi-segment variables, nested field paths.
		{"GET", "/v1/shelves/s1", httprule.Found, "GetShelf", []string{"name=shelves/s1"}, nil},
		{"DELETE", "/v1/shelves/s1", httprule.Found, "DeleteShelf", []string{"name=shelves/s1"}, nil},
		{"GET", "/v1/shelves/s1/books/b1", httprule.Found, "GetBook", []string{"book.name=shelves/s1/books/b1"}, nil},
		{"GET", "/v1/s1/info", httprule.Found, "ShelfInfo", []string{"shelf=s1"}, nil},
		{"GET", "/v1/shelves/info", httprule.Found, "GetShelf", []string{"name=shelves/info"}, nil}, // literal "shelves" beats "*"

		// "**", including zero segments, and {var=a/*/b/**}.
		{"GET", "/v1/files/a/b/c.txt", httprule.Found, "GetFile", []string{"name=files/a/b/c.txt"}, nil},
		{"GET", "/v1/files", httprule.Found, "GetFile", []string{"name=files"}, nil},
		{"GET", "/v2/a/x/b", httprule.Found, "Deep", []string{"name=a/x/b"}, nil},
		{"GET", "/v2/a/x/b/c/d", httprule.Found, "Deep", []string{"name=a/x/b/c/d"}, nil},
		{"GET", "/v2/a/x", httprule.NotFound, "", nil, nil},
		{"GET", "/v2/a/x/c/b", httprule.NotFound, "", nil, nil},

		// Precedence: literal > "*" > "**", left to right, per method.
		{"GET", "/v1/shelves/special", httprule.Found, "Special", nil, nil},
		{"DELETE", "/v1/shelves/special", httprule.Found, "DeleteShelf", []string{"name=shelves/special"}, nil},
		{"GET", "/p/lit/x", httprule.Found, "LitX", nil, nil},
		{"GET", "/p/foo/x", httprule.Found, "StarX", []string{"a=foo"}, nil},
		{"GET", "/p/lit/y", httprule.Found, "LitDeep", []string{"b=y"}, nil},
		{"GET", "/p/lit", httprule.Found, "LitDeep", []string{"b="}, nil},
		{"GET", "/p/lit/x/y", httprule.Found, "LitDeep", []string{"b=x/y"}, nil},
		{"GET", "/p/foo/y", httprule.Found, "AnyDeep", []string{"c=foo/y"}, nil},
		{"GET", "/p", httprule.Found, "AnyDeep", []string{"c="}, nil},

		// Custom verbs and the ':' ambiguity.
		{"POST", "/v1/shelves/s1:archive", httprule.Found, "ArchiveShelf", []string{"name=shelves/s1"}, nil},
		{"POST", "/v1/shelves/s1:%61rchive", httprule.Found, "ArchiveShelf", []string{"name=shelves/s1"}, nil},
		{"GET", "/v1/shelves/s1:archive", httprule.Found, "GetShelf", []string{"name=shelves/s1:archive"}, nil},
		{"GET", "/v1/shelves/a:b", httprule.Found, "GetShelf", []string{"name=shelves/a:b"}, nil},
		{"GET", "/v1/shelves/a:b:c", httprule.Found, "GetShelf", []string{"name=shelves/a:b:c"}, nil},
		{"GET", "/v1/shelves/:b", httprule.Found, "GetShelf", []string{"name=shelves/:b"}, nil},
		{"GET", "/v1/shelves/a:", httprule.Found, "GetShelf", []string{"name=shelves/a:"}, nil},
		{"GET", "/v1/a:b/info", httprule.Found, "ShelfInfo", []string{"shelf=a:b"}, nil},
		{"PUT", "/v1/shelves/s1:archive", httprule.MethodNotAllowed, "", nil, []string{"DELETE", "GET", "POST"}},
		{"POST", "/v1/shelves/s1", httprule.MethodNotAllowed, "", nil, []string{"DELETE", "GET"}},
		{"POST", "/v1/operations/o1/sub:cancel", httprule.Found, "CancelOperation", []string{"name=operations/o1/sub"}, nil},
		{"POST", "/v1/operations:cancel", httprule.Found, "CancelOperation", []string{"name=operations"}, nil},
		{"GET", "/v1/operations/o1:cancel", httprule.Found, "GetOperation", []string{"name=operations/o1:cancel"}, nil},
		{"GET", "/q/x/y:v", httprule.Found, "AnonymousVerb", nil, nil},
		{"GET", "/q/x:v", httprule.Found, "AnonymousVerb", nil, nil},
		{"GET", "/q/x/y", httprule.NotFound, "", nil, nil},
		{"GET", "/q/x/y:w", httprule.NotFound, "", nil, nil},

		// "**" followed by more segments: it takes all but what the rest of
		// the template needs, possibly nothing; with two "**" templates at
		// the same place, the one with more segments after it first.
		{"GET", "/v1/projects/p/databases/d/documents/users/alice", httprule.Found, "ListDocuments",
			[]string{"parent=projects/p/databases/d/documents/users", "collection_id=alice"}, nil},
		{"GET", "/v1/projects/p/databases/d/documents/users/alice/orders", httprule.Found, "ListDocuments",
			[]string{"parent=projects/p/databases/d/documents/users/alice", "collection_id=orders"}, nil},
		{"GET", "/v1/projects/p/databases/d/documents/users", httprule.Found, "GetDocument",
			[]string{"name=projects/p/databases/d/documents/users"}, nil},
		{"POST", "/v1/projects/p/databases/d/documents/users", httprule.Found, "CreateDocument",
			[]string{"parent=projects/p/databases/d/documents", "collection_id=users"}, nil},
		{"POST", "/v1/projects/p/databases/d/documents/a/b/c", httprule.Found, "CreateDocument",
			[]string{"parent=projects/p/databases/d/documents/a/b", "collection_id=c"}, nil},
		{"POST", "/v1/projects/p/databases/d/documents/a%2Fb/c%2Fd", httprule.Found, "CreateDocument",
			[]string{"parent=projects/p/databases/d/documents/a%2Fb", "collection_id=c/d"}, nil},
		{"POST", "/v1/projects/p/databases/d/documents", httprule.NotFound, "", nil, nil},
		{"GET", "/v1/projects/p/locations/l/keyRings/k/cryptoKeys/c/protectedResourcesSummary", httprule.Found, "KeySummary",
			[]string{"name=projects/p/locations/l/keyRings/k/cryptoKeys/c"}, nil},
		{"GET", "/v1/projects/p/locations/l/keyRings/k/cryptoKeys/c/v/7/protectedResourcesSummary", httprule.Found, "KeySummary",
			[]string{"name=projects/p/locations/l/keyRings/k/cryptoKeys/c/v/7"}, nil},
		{"GET", "/v1/projects/p/locations/l/keyRings/k/cryptoKeys/c/protectedResourcesSumma%72y", httprule.Found, "KeySummary",
			[]string{"name=projects/p/locations/l/keyRings/k/cryptoKeys/c"}, nil},
		{"GET", "/v1/projects/p/locations/l/keyRings/k/cryptoKeys/c/other", httprule.NotFound, "", nil, nil},
		{"PATCH", "/v1test2/a/b/botSessions/s", httprule.Found, "UpdateBotSession", []string{"name=a/b/botSessions/s"}, nil},
		{"PATCH", "/v1test2/botSessions/s", httprule.Found, "UpdateBotSession", []string{"name=botSessions/s"}, nil},
		{"PATCH", "/v1test2/a/botSessions", httprule.MethodNotAllowed, "", nil, []string{"POST"}},
		{"POST", "/v1test2/x/y/botSessions", httprule.Found, "CreateBotSession", []string{"parent=x/y"}, nil},
		{"POST", "/v1test2/botSessions", httprule.Found, "CreateBotSession", []string{"parent="}, nil},
		{"GET", "/r/a/b/x/c:v", httprule.Found, "DeepVerb", []string{"a=a/b", "b=c"}, nil},
		{"GET", "/r/x/c:v", httprule.Found, "DeepVerb", []string{"a=", "b=c"}, nil},
		{"GET", "/r/x/c", httprule.NotFound, "", nil, nil},

		// Verbs with a ':': the longest verb some route has wins.
		{"GET", "/v1/example/123:custom:custom", httprule.Found, "CustomCustom", []string{"uuid=123"}, nil},
		{"GET", "/v1/example/123:custom", httprule.Found, "Custom", []string{"uuid=123"}, nil},
		{"GET", "/v1/example/1:2:custom", httprule.Found, "Custom", []string{"uuid=1:2"}, nil},
		{"GET", "/v1/example/a:custom:custom:custom", httprule.Found, "CustomCustom", []string{"uuid=a:custom"}, nil},
		{"GET", "/v1/example/123:custom%3Acustom", httprule.NotFound, "", nil, nil}, // an escaped ':' is data
		{"POST", "/v1/example/123:custom:custom", httprule.MethodNotAllowed, "", nil, []string{"GET"}},

		// Escaping: a single-segment variable is fully decoded, a
		// multi-segment one keeps reserved characters encoded.
		{"GET", "/v1/a%2Fb/info", httprule.Found, "ShelfInfo", []string{"shelf=a/b"}, nil},
		{"GET", "/v1/a%20b+c%3A%25/info", httprule.Found, "ShelfInfo", []string{"shelf=a b+c:%"}, nil},
		{"GET", "/v1/shelves/a%2Fb", httprule.Found, "GetShelf", []string{"name=shelves/a%2Fb"}, nil},
		{"GET", "/v1/shelves/a%2fb", httprule.Found, "GetShelf", []string{"name=shelves/a%2fb"}, nil},
		{"GET", "/v1/shelves/a%20b%41%25", httprule.Found, "GetShelf", []string{"name=shelves/a bA%"}, nil},
		{"GET", "/v1/shelves/a%3Ab%40c%3F%23%5B%5D%21%24%26%27%28%29%2A%2B%2C%3B%3D", httprule.Found, "GetShelf",
			[]string{"name=shelves/a%3Ab%40c%3F%23%5B%5D%21%24%26%27%28%29%2A%2B%2C%3B%3D"}, nil},
		{"GET", "/v1/files/x%2Fy/%7Ez", httprule.Found, "GetFile", []string{"name=files/x%2Fy/~z"}, nil},
		{"GET", "/%76%31/shelve%73", httprule.Found, "ListShelves", nil, nil},
		{"GET", "/v1/shelves/speci%61l", httprule.Found, "Special", nil, nil},
		{"GET", "/v1/shelves%2Fspecial", httprule.NotFound, "", nil, nil},
		{"GET", "/v1/shelves/%zz", httprule.MalformedPath, "", nil, nil},
		{"GET", "/v1/shelves/a%2", httprule.MalformedPath, "", nil, nil},
		{"GET", "/v1/shelves/a%", httprule.MalformedPath, "", nil, nil},
		{"GET", "/nowhere/%g0", httprule.MalformedPath, "", nil, nil},

		// Empty segments, relative and empty paths.
		{"GET", "/v1/shelves/", httprule.NotFound, "", nil, nil},
		{"GET", "/v1//shelves", httprule.NotFound, "", nil, nil},
		{"GET", "//v1/shelves", httprule.NotFound, "", nil, nil},
		{"GET", "/v1/files/", httprule.NotFound, "", nil, nil},
		{"GET", "v1/shelves", httprule.NotFound, "", nil, nil},
		{"GET", "", httprule.NotFound, "", nil, nil},
		{"GET", "/v3", httprule.NotFound, "", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			t.Parallel()
			m, res := router.Match(tt.method, tt.path)
			if res != tt.result {
				t.Fatalf("result = %v, want %v (match %+v)", res, tt.result, m)
			}
			var route string
			if m.Route != nil {
				route = m.Route.Value.(string)
			}
			if route != tt.route {
				t.Errorf("route = %q, want %q", route, tt.route)
			}
			if got := v(m.Vars); !reflect.DeepEqual(got, tt.vars) {
				t.Errorf("vars = %q, want %q", got, tt.vars)
			}
			if !reflect.DeepEqual(m.Allow, tt.allow) {
				t.Errorf("allow = %q, want %q", m.Allow, tt.allow)
			}
		})
	}
}

func TestMatchFullyDecodeReservedExpansion(t *testing.T) {
	t.Parallel()
	router := newLibraryRouter(t, httprule.WithFullyDecodeReservedExpansion())
	tests := []struct{ path, want string }{
		{"/v1/shelves/a%3Ab%40c%2Bd%20e", "name=shelves/a:b@c+d e"},
		{"/v1/shelves/a%2Fb%2fc", "name=shelves/a%2Fb%2fc"},
		{"/v1/a%2Fb%3A/info", "shelf=a/b:"}, // single-segment: unchanged, fully decoded
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			t.Parallel()
			m, res := router.Match("GET", tt.path)
			if res != httprule.Found {
				t.Fatalf("result = %v, want Found", res)
			}
			if got := v(m.Vars); len(got) != 1 || got[0] != tt.want {
				t.Errorf("vars = %q, want [%q]", got, tt.want)
			}
		})
	}
}

func TestBuilderConflicts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		first, second [2]string // method, template
		conflict      bool
	}{
		{[2]string{"GET", "/v1/{a}"}, [2]string{"GET", "/v1/{b=*}"}, true},
		{[2]string{"GET", "/v1/{a}"}, [2]string{"GET", "/v1/*"}, true},
		{[2]string{"GET", "/v1/{name=shelves/*}"}, [2]string{"GET", "/v1/shelves/{id}"}, true},
		{[2]string{"GET", "/v1/{name=**}"}, [2]string{"GET", "/v1/{a=**}"}, true},
		{[2]string{"POST", "/v1/{a}:x"}, [2]string{"POST", "/v1/{b}:%78"}, true},
		{[2]string{"GET", "/v1/%7Ea"}, [2]string{"GET", "/v1/~a"}, true},
		{[2]string{"GET", "/v1/{a}"}, [2]string{"POST", "/v1/{a}"}, false},
		{[2]string{"GET", "/v1/{a}"}, [2]string{"GET", "/v1/{a}:x"}, false},
		{[2]string{"GET", "/v1/{a}"}, [2]string{"GET", "/v1/{a=**}"}, false},
		{[2]string{"GET", "/v1/{a}"}, [2]string{"GET", "/v1/a"}, false},
		{[2]string{"GET", "/v1/a%2Fb"}, [2]string{"GET", "/v1/a/b"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.first[1]+" vs "+tt.second[1], func(t *testing.T) {
			t.Parallel()
			b := httprule.NewBuilder()
			if err := b.Add(route(t, tt.first[0], tt.first[1], "first.proto")); err != nil {
				t.Fatal(err)
			}
			err := b.Add(route(t, tt.second[0], tt.second[1], "second.proto"))
			if !tt.conflict {
				if err != nil {
					t.Fatalf("Add: %v", err)
				}
				return
			}
			var ce *httprule.ConflictError
			if !errors.As(err, &ce) {
				t.Fatalf("Add error = %v, want a *ConflictError", err)
			}
			if ce.Shadowed.Source != "first.proto" || ce.Winner.Source != "second.proto" {
				t.Errorf("conflict shadowed %q by %q, want first.proto by second.proto", ce.Shadowed.Source, ce.Winner.Source)
			}
			for _, want := range []string{`"first.proto"`, `"second.proto"`, ce.Shadowed.Template.String(), tt.second[0]} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not mention %s", err, want)
				}
			}
			// The later route won: it is the one that matches, whatever
			// the order of Build calls.
			m, res := b.Build().Match(tt.first[0], "/v1/zz")
			if res == httprule.Found && m.Route.Source != "second.proto" {
				t.Errorf("matched %q, want the later route second.proto", m.Route.Source)
			}
		})
	}
}

func route(tb testing.TB, method, tmpl, source string) httprule.Route {
	tb.Helper()
	p, err := httprule.Parse(tmpl)
	if err != nil {
		tb.Fatal(err)
	}
	return httprule.Route{Method: method, Template: p, Source: source}
}

func TestBuilderInvalidRoutes(t *testing.T) {
	t.Parallel()
	b := httprule.NewBuilder()
	if err := b.Add(httprule.Route{Method: "GET", Source: "x"}); err == nil || !strings.Contains(err.Error(), "nil template") {
		t.Errorf("nil template: err = %v", err)
	}
	for _, method := range []string{"", "GE T", "G/T", "GÉT"} {
		if err := b.Add(route(t, method, "/v1", "x")); err == nil || !strings.Contains(err.Error(), "HTTP token") {
			t.Errorf("method %q: err = %v", method, err)
		}
	}
}

func TestBuildSnapshot(t *testing.T) {
	t.Parallel()
	b := httprule.NewBuilder()
	if err := b.Add(route(t, "GET", "/v1/a", "a")); err != nil {
		t.Fatal(err)
	}
	before := b.Build()
	if err := b.Add(route(t, "GET", "/v1/b", "b")); err != nil {
		t.Fatal(err)
	}
	after := b.Build()
	if _, res := before.Match("GET", "/v1/b"); res != httprule.NotFound {
		t.Errorf("router built before Add matched the later route: %v", res)
	}
	for _, p := range []string{"/v1/a", "/v1/b"} {
		if _, res := after.Match("GET", p); res != httprule.Found {
			t.Errorf("Match(%q) = %v, want Found", p, res)
		}
	}
	var zero httprule.Router
	if _, res := zero.Match("GET", "/"); res != httprule.NotFound {
		t.Errorf("zero Router: %v, want NotFound", res)
	}
}

// TestMatchConcurrent exercises Match from many goroutines; run with -race.
func TestMatchConcurrent(t *testing.T) {
	t.Parallel()
	router := newLibraryRouter(t)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				path := fmt.Sprintf("/v1/shelves/s%d/books/b%d", g, i)
				m, res := router.Match("GET", path)
				if res != httprule.Found || m.Vars[0].Value != path[len("/v1/"):] {
					t.Errorf("Match(%q) = %v %v", path, res, v(m.Vars))
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestMatchResultString(t *testing.T) {
	t.Parallel()
	for res, want := range map[httprule.MatchResult]string{
		httprule.NotFound: "NotFound", httprule.Found: "Found", httprule.MethodNotAllowed: "MethodNotAllowed",
		httprule.MalformedPath: "MalformedPath", 42: "MatchResult(42)",
	} {
		if got := res.String(); got != want {
			t.Errorf("%d.String() = %q, want %q", int(res), got, want)
		}
	}
}

// TestMatchIntoAllocatesNothing checks that matching a path that needs no
// decoding, with a buffer for its variables, allocates nothing: whether
// it is found (variables, verbs, "**" in the middle) or not.
// Not parallel: AllocsPerRun counts the whole process's allocations.
func TestMatchIntoAllocatesNothing(t *testing.T) {
	router := newLibraryRouter(t)
	tests := []struct {
		method, path string
		result       httprule.MatchResult
	}{
		{"GET", "/v1/shelves", httprule.Found},
		{"GET", "/v1/shelves/s1/books/b1", httprule.Found},
		{"POST", "/v1/shelves/s1:archive", httprule.Found},
		{"GET", "/v1/example/1:custom:custom", httprule.Found},
		{"GET", "/v1/projects/p/databases/d/documents/a/b/c/col", httprule.Found},
		{"GET", "/r/a/b/x/c:v", httprule.Found},
		{"GET", "/v3/nothing/here", httprule.NotFound},
		{"BREW", "/v3/nothing/here", httprule.NotFound},
	}
	for _, tt := range tests {
		var vars [4]httprule.Var
		if _, res := router.MatchInto(tt.method, tt.path, vars[:0]); res != tt.result {
			t.Fatalf("MatchInto(%s %s) = %v, want %v", tt.method, tt.path, res, tt.result)
		}
		if n := testing.AllocsPerRun(100, func() { router.MatchInto(tt.method, tt.path, vars[:0]) }); n != 0 {
			t.Errorf("MatchInto(%s %s) allocates %v times, want 0", tt.method, tt.path, n)
		}
	}
}
