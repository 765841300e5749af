package httprule_test

import (
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/transcoding/httprule"
)

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"/", "/v1/shelves", "/v1/{name=shelves/*/books/*}", "/v1/{book.name=shelves/*}/x:verb",
		"/v1/{name=a/*/b/**}", "/v1/**:undelete", "/v1/{name=x:y}:z", "/v1/a:b/c:d:e",
		"/%76%31/a%2fb", "/v1/{a}/{a.b}", "/v1/{a={b}}", "/v1/**/x", "/v1/{", "/v1/:x", "",
		"/v1/{parent=projects/*/databases/*/documents/**}/{collection_id}", "/v1test2/{name=**/botSessions/*}",
		"/v1/{name=projects/*/keyRings/*/cryptoKeys/**}/protectedResourcesSummary", "/v1/{uuid}:custom:custom",
		"/v1/**/a/**", "/v1/*:a:b", "/v1/{a=**}/{b}/c:d:e",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tmpl, err := httprule.Parse(s)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "parse path template ") {
				t.Fatalf("error %q does not name the template", err)
			}
			return
		}
		str := tmpl.String()
		again, err := httprule.Parse(str)
		if err != nil {
			t.Fatalf("Parse(%q).String() = %q does not parse: %v", s, str, err)
		}
		if again.String() != str || again.Shape() != tmpl.Shape() || again.Verb() != tmpl.Verb() ||
			!reflect.DeepEqual(again.Segments(), tmpl.Segments()) || !reflect.DeepEqual(again.Variables(), tmpl.Variables()) {
			t.Fatalf("re-parse of %q changed it: %q/%q, was %q/%q", s, again, again.Shape(), str, tmpl.Shape())
		}

		// A path built from the template matches it.
		var path strings.Builder
		for _, seg := range tmpl.Segments() {
			path.WriteByte('/')
			switch seg.Kind {
			case httprule.Literal:
				path.WriteString(seg.Literal)
			case httprule.Wildcard:
				path.WriteString("x")
			case httprule.DeepWildcard:
				path.WriteString("y/z")
			}
		}
		if path.Len() == 0 {
			path.WriteByte('/')
		}
		if tmpl.Verb() != "" {
			path.WriteString(":" + tmpl.Verb())
		}
		b := httprule.NewBuilder()
		if err := b.Add(httprule.Route{Method: "GET", Template: tmpl}); err != nil {
			t.Fatal(err)
		}
		m, res := b.Build().Match("GET", path.String())
		if res != httprule.Found || m.Route.Template != tmpl || len(m.Vars) != len(tmpl.Variables()) {
			t.Fatalf("Match(%q) against %q = %v %+v, want Found", path.String(), str, res, m)
		}
	})
}

var (
	escape = regexp.MustCompile(`%[0-9A-Fa-f]{2}`)
	// reserved holds the RFC 6570 reserved characters.
	reserved = ":/?#[]@!$&'()*+,;="
)

// decodeMulti is an independent reference for multi-segment decoding.
func decodeMulti(s string) string {
	return escape.ReplaceAllStringFunc(s, func(e string) string {
		d, _ := url.PathUnescape(e)
		if strings.Contains(reserved, d) {
			return e
		}
		return d
	})
}

func FuzzMatch(f *testing.F) {
	for _, p := range []string{
		"/", "/v1/shelves", "/v1/shelves/s1", "/v1/shelves/s1/books/b1", "/v1/a%2Fb/info",
		"/v1/shelves/a%2Fb", "/v1/shelves/s1:archive", "/v1/shelves/a:b:c", "/v1/files/a/b/c.txt",
		"/v2/a/x/b/c", "/p/lit/y", "/p/foo/x", "/v1/operations/o/p:cancel", "/v1/shelves/%zz",
		"/v1/shelves/", "//", "/q/x/y:v", "/%76%31/shelve%73", "/v1/shelves/a%20b%41%25",
		"/v1/projects/p/databases/d/documents/a/b/c", "/v1test2/a/botSessions/s", "/v1test2/x/botSessions",
		"/v1/example/1:custom:custom", "/v1/example/a:b:custom", "/r/a/b/x/c:v",
	} {
		for _, m := range []string{"GET", "POST", "PUT"} {
			f.Add(m, p)
		}
	}
	router := newLibraryRouter(f)
	methods := []string{"GET", "POST", "DELETE", "LIST"}
	f.Fuzz(func(t *testing.T, method, path string) {
		m, res := router.Match(method, path)
		m2, res2 := router.Match(method, path)
		if res != res2 || !reflect.DeepEqual(m, m2) {
			t.Fatalf("Match is not deterministic: %v %+v then %v %+v", res, m, res2, m2)
		}
		if strings.HasPrefix(path, "/") {
			if _, err := url.PathUnescape(path); (err != nil) != (res == httprule.MalformedPath) {
				t.Fatalf("result %v, but PathUnescape error is %v", res, err)
			}
		}
		if (m.Route != nil) != (res == httprule.Found) || (len(m.Allow) > 0) != (res == httprule.MethodNotAllowed) {
			t.Fatalf("result %v inconsistent with match %+v", res, m)
		}
		switch res {
		case httprule.Found:
			if m.Route.Method != method {
				t.Fatalf("matched method %q for %q", m.Route.Method, method)
			}
			vars := m.Route.Template.Variables()
			if len(m.Vars) != len(vars) {
				t.Fatalf("%d vars for %d variables", len(m.Vars), len(vars))
			}
			segs := strings.Split(path[1:], "/")
			last := segs[len(segs)-1]
			for c := range len(last) {
				if last[c] == ':' {
					segs = append(segs, last[:c]) // the segment without a verb
				}
			}
			for k, v := range m.Vars {
				if !slices.Equal(v.FieldPath, vars[k].FieldPath) {
					t.Fatalf("var %d field path %q, want %q", k, v.FieldPath, vars[k].FieldPath)
				}
				single := vars[k].End-vars[k].Start == 1 &&
					m.Route.Template.Segments()[vars[k].Start].Kind != httprule.DeepWildcard
				if single {
					if !slices.ContainsFunc(segs, func(s string) bool { d, _ := url.PathUnescape(s); return d == v.Value }) {
						t.Fatalf("var %q = %q is not the decoding of a segment of %q", v.FieldPath, v.Value, path)
					}
				} else if !strings.Contains(decodeMulti(path), v.Value) {
					t.Fatalf("var %q = %q is not a decoded part of %q", v.FieldPath, v.Value, path)
				}
			}
		case httprule.MethodNotAllowed:
			if !slices.IsSorted(m.Allow) || slices.Contains(m.Allow, method) {
				t.Fatalf("Allow %q for %q", m.Allow, method)
			}
			for _, a := range m.Allow {
				if _, r := router.Match(a, path); r != httprule.Found {
					t.Fatalf("Allow lists %q but Match(%q, %q) = %v", a, a, path, r)
				}
			}
		case httprule.NotFound:
			for _, other := range methods {
				if _, r := router.Match(other, path); r != httprule.NotFound {
					t.Fatalf("NotFound for %q but %v for %q", method, r, other)
				}
			}
		}
	})
}
