package httprule

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/internal/corpora"
)

// trickyTemplates are the shapes the matcher special-cases: "**" in the
// middle and at the end, verbs with colons, literals next to wildcards,
// percent-encoded literals, a custom method.
var trickyTemplates = [][2]string{
	{"GET", "/"}, {"GET", "/v1/shelves"}, {"POST", "/v1/shelves"}, {"LIST", "/v1/shelves"},
	{"GET", "/v1/{name=shelves/*}"}, {"DELETE", "/v1/{name=shelves/*}"}, {"POST", "/v1/{name=shelves/*}:archive"},
	{"GET", "/v1/shelves/special"}, {"GET", "/v1/{book.name=shelves/*/books/*}"}, {"GET", "/v1/{shelf}/info"},
	{"GET", "/v1/{name=files/**}"}, {"GET", "/v1/{name=operations/**}"}, {"POST", "/v1/{name=operations/**}:cancel"},
	{"GET", "/v2/{name=a/*/b/**}"}, {"GET", "/p/{a}/x"}, {"GET", "/p/lit/x"}, {"GET", "/p/lit/{b=**}"},
	{"GET", "/p/{c=**}"}, {"GET", "/q/*/**:v"},
	{"GET", "/v1/{name=projects/*/databases/*/documents/*/**}"},
	{"GET", "/v1/{parent=projects/*/databases/*/documents/*/**}/{collection_id}"},
	{"POST", "/v1/{parent=projects/*/databases/*/documents/**}/{collection_id}"},
	{"GET", "/v1/{name=projects/*/locations/*/keyRings/*/cryptoKeys/**}/protectedResourcesSummary"},
	{"PATCH", "/v1test2/{name=**/botSessions/*}"}, {"POST", "/v1test2/{parent=**}/botSessions"},
	{"GET", "/v1/example/{uuid}:custom:custom"}, {"GET", "/v1/example/{uuid}:custom"},
	{"GET", "/r/{a=**}/x/{b}:v"}, {"GET", "/%76%31/a%2fb/{x}"}, {"POST", "/v1/{x=**}/y/*:a%3Ab"},
	{"GET", "/v1/a%20b/{x}"}, {"PUT", "/v1/{a}/{b}/{c}/{d}/{e}/{f}/{g}/{h}/{i}/{j}/{k}/{l}/{m}/{n}/{o}/{p}/{q}"},
}

// tricky returns trickyTemplates as bindings.
func tricky() []corpora.Binding {
	out := make([]corpora.Binding, 0, len(trickyTemplates))
	for _, b := range trickyTemplates {
		out = append(out, corpora.Binding{Method: b[0], Template: b[1]})
	}
	return out
}

// routers builds the new and the previous router over bindings, skipping
// those that do not parse.
func routers(t *testing.T, bindings []corpora.Binding, opts ...Option) (*Router, *prevRouter, []*Template, []string) {
	t.Helper()
	b := NewBuilder(opts...)
	var tmpls []*Template
	var methods []string
	for i, bd := range bindings {
		tmpl, err := Parse(bd.Template)
		if err != nil {
			continue
		}
		if err := b.Add(Route{Method: bd.Method, Template: tmpl, Source: bd.Template, Value: i}); err != nil {
			if _, ok := err.(*ConflictError); !ok {
				continue
			}
		}
		tmpls = append(tmpls, tmpl)
		methods = append(methods, bd.Method)
	}
	return b.Build(), b.buildPrev(), tmpls, methods
}

// requests returns requests made from tmpl, some that it matches and some
// that look like it: wildcards filled with IDs, with other templates'
// literals (pool) or with escapes, literals escaped or replaced, the verb
// kept, dropped or replaced, a segment dropped or added, with its method
// or another.
func requests(rng *rand.Rand, method string, tmpl *Template, pool, verbs []string) [][2]string {
	pick := func(s []string) string { return s[rng.IntN(len(s))] }
	ids := []string{"x1", "a%2Fb", "x:y", "%41bc", "a%3Acustom", "~", "projects"}
	var out [][2]string
	for variant := range 6 {
		var segs []string
		for _, s := range tmpl.Segments() {
			switch s.Kind {
			case Literal:
				switch {
				case variant == 3 && rng.IntN(3) == 0:
					segs = append(segs, pick(pool))
				case variant == 4 && s.Literal[0] >= 'a' && s.Literal[0] <= 'z':
					segs = append(segs, "%"+strings.ToLower(string(upperHex[s.Literal[0]>>4])+string(upperHex[s.Literal[0]&15]))+s.Literal[1:])
				default:
					segs = append(segs, s.Literal)
				}
			case Wildcard:
				if variant == 0 {
					segs = append(segs, "x1")
				} else if rng.IntN(2) == 0 {
					segs = append(segs, pick(pool))
				} else {
					segs = append(segs, pick(ids))
				}
			case DeepWildcard:
				switch rng.IntN(4) {
				case 0:
					segs = append(segs, "a", "b")
				case 1:
					segs = append(segs, pick(pool))
				case 2:
					segs = append(segs, pick(pool), pick(ids), pick(pool))
				}
			}
		}
		switch {
		case variant == 5 && len(segs) > 0 && rng.IntN(2) == 0:
			segs = segs[:len(segs)-1]
		case variant == 5:
			segs = append(segs, pick(pool))
		}
		path := "/" + strings.Join(segs, "/")
		switch v := tmpl.Verb(); {
		case variant == 2 && rng.IntN(2) == 0:
		case variant == 2 || v == "" && rng.IntN(4) == 0:
			path += ":" + pick(verbs)
		case v != "":
			path += ":" + v
		}
		m := method
		if variant%2 == 1 {
			m = pick([]string{"GET", "POST", "PATCH", "DELETE", "PUT", "HEAD"})
		}
		out = append(out, [2]string{m, path})
	}
	return out
}

// compareRouters checks that the new and the previous router answer the
// same for requests made from every template.
func compareRouters(t *testing.T, bindings []corpora.Binding, opts ...Option) {
	t.Helper()
	router, prev, tmpls, methods := routers(t, bindings, opts...)
	var pool, verbs []string
	seen := map[string]bool{}
	for _, tmpl := range tmpls {
		for _, s := range tmpl.Segments() {
			if s.Kind == Literal && !seen[s.Literal] {
				seen[s.Literal] = true
				pool = append(pool, s.Literal)
			}
		}
		if v := tmpl.Verb(); v != "" && !seen[":"+v] {
			seen[":"+v] = true
			verbs = append(verbs, v)
		}
	}
	pool = append(pool, "x1")
	verbs = append(verbs, "nope", "a:b")
	rng := rand.New(rand.NewPCG(1, 2))
	n, found := 0, 0
	var buf [4]Var
	for k, tmpl := range tmpls {
		for _, req := range requests(rng, methods[k], tmpl, pool, verbs) {
			got, res := router.MatchInto(req[0], req[1], buf[:0])
			want, wantRes := prev.Match(req[0], req[1])
			n++
			if res == Found {
				found++
			}
			if len(got.Vars) == 0 {
				got.Vars = nil
			}
			if res != wantRes || got.Route != want.Route || !reflect.DeepEqual(got.Vars, want.Vars) || !reflect.DeepEqual(got.Allow, want.Allow) {
				t.Fatalf("%s %s: got %v %s %+v %q, the previous router %v %s %+v %q", req[0], req[1],
					res, source(got.Route), got.Vars, got.Allow, wantRes, source(want.Route), want.Vars, want.Allow)
			}
		}
	}
	t.Logf("%d templates, %d requests, %d found", len(tmpls), n, found)
	if found < n/10 {
		t.Fatalf("only %d of %d requests found a route: the requests do not exercise the matcher", found, n)
	}
}

// source names a matched route for failure messages.
func source(r *Route) string {
	if r == nil {
		return "<none>"
	}
	return r.Method + " " + r.Source
}

// corpusBindings returns the bindings of a corpus that `make corpora`
// built, skipping the test when it is missing.
func corpusBindings(t *testing.T, name string) []corpora.Binding {
	t.Helper()
	path := filepath.Join("..", "..", "scripts", "corpora", "out", name)
	if _, err := os.Stat(path); err != nil {
		t.Skipf("corpus %s not built; run make corpora: %v", path, err)
	}
	if raceEnabled && name == "googleapis.binpb" {
		t.Skip("Google's corpus is not read under the race detector (memory)")
	}
	bindings, err := corpora.Bindings(path)
	if err != nil {
		t.Fatal(err)
	}
	return bindings
}

// TestMatchSameAsPrevious checks the flat-table matcher against the
// pointer trie it replaced (router_prev_test.go) on requests made from
// every template of the tricky set and of both corpora: same result, same
// route, same variables, same Allow.
func TestMatchSameAsPrevious(t *testing.T) {
	t.Parallel()
	sets := []struct {
		name     string
		bindings func(t *testing.T) []corpora.Binding
	}{
		{"tricky", func(*testing.T) []corpora.Binding { return tricky() }},
		{"grpc-gateway", func(t *testing.T) []corpora.Binding { return corpusBindings(t, "grpc-gateway.binpb") }},
		{"googleapis", func(t *testing.T) []corpora.Binding { return corpusBindings(t, "googleapis.binpb") }},
	}
	for _, set := range sets {
		t.Run(set.name, func(t *testing.T) {
			t.Parallel()
			bindings := set.bindings(t)
			compareRouters(t, bindings)
			compareRouters(t, bindings, WithFullyDecodeReservedExpansion())
		})
	}
}

// FuzzMatchSameAsPrevious compares the two matchers on arbitrary requests
// against the tricky templates.
func FuzzMatchSameAsPrevious(f *testing.F) {
	for _, p := range []string{
		"/", "/v1/shelves", "/v1/shelves/s1:archive", "/v1/files/a/b/c.txt", "/v1/operations/o/p:cancel",
		"/v1/projects/p/databases/d/documents/a/b/c", "/v1test2/a/botSessions/s", "/v1/example/1:custom:custom",
		"/r/a/b/x/c:v", "/v1/a/b/y/c:a:b", "/%76%31/a%2Fb/x", "/v1/shelves/%zz", "//", "/q/x/y:v",
	} {
		f.Add("GET", p)
		f.Add("POST", p)
	}
	b := NewBuilder()
	for _, bd := range tricky() {
		tmpl, err := Parse(bd.Template)
		if err != nil {
			f.Fatal(err)
		}
		if err := b.Add(Route{Method: bd.Method, Template: tmpl, Source: bd.Template}); err != nil {
			f.Fatal(err)
		}
	}
	router, prev := b.Build(), b.buildPrev()
	f.Fuzz(func(t *testing.T, method, path string) {
		got, res := router.Match(method, path)
		want, wantRes := prev.Match(method, path)
		if res != wantRes || got.Route != want.Route || !reflect.DeepEqual(got.Vars, want.Vars) || !reflect.DeepEqual(got.Allow, want.Allow) {
			t.Fatalf("%s %s: got %v %s %+v %q, the previous router %v %s %+v %q", method, path,
				res, source(got.Route), got.Vars, got.Allow, wantRes, source(want.Route), want.Vars, want.Allow)
		}
	})
}
