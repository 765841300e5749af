package httprule_test

import (
	"fmt"
	"testing"

	"github.com/sluice-dev/sluice/transcoding/httprule"
)

// BenchmarkMatch matches realistic paths against route tables of growing
// size. Each route has its own literal prefix and one of four common shapes;
// the matched paths are spread over the table, so larger tables also pay
// for cache misses.
func BenchmarkMatch(b *testing.B) {
	shapes := []struct{ method, tmpl, path string }{
		{"GET", "/v1/svc%d/{parent=shelves/*}/books", "/v1/svc%d/shelves/s1/books"},
		{"GET", "/v1/svc%d/{name=shelves/*/books/*}", "/v1/svc%d/shelves/s1/books/b2"},
		{"POST", "/v1/svc%d/{name=shelves/*/books/*}:publish", "/v1/svc%d/shelves/s1/books/b2:publish"},
		{"PATCH", "/v1/svc%d/{book.name=shelves/*/books/*}", "/v1/svc%d/shelves/s1/books/b2"},
	}
	for _, n := range []int{10, 1000, 10000} {
		bld := httprule.NewBuilder()
		for i := range n {
			s := shapes[i%len(shapes)]
			tmpl, err := httprule.Parse(fmt.Sprintf(s.tmpl, i))
			if err != nil {
				b.Fatal(err)
			}
			if err := bld.Add(httprule.Route{Method: s.method, Template: tmpl, Source: fmt.Sprint(i)}); err != nil {
				b.Fatal(err)
			}
		}
		router := bld.Build()
		type req struct{ method, path string }
		var reqs []req
		for k := range 64 {
			i := k * n / 64
			s := shapes[i%len(shapes)]
			reqs = append(reqs, req{s.method, fmt.Sprintf(s.path, i)})
			if _, res := router.Match(s.method, reqs[k].path); res != httprule.Found {
				b.Fatalf("Match(%s %s) = %v", s.method, reqs[k].path, res)
			}
		}
		b.Run(fmt.Sprintf("routes=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			k := 0
			for b.Loop() {
				r := reqs[k%len(reqs)]
				k++
				if _, res := router.Match(r.method, r.path); res != httprule.Found {
					b.Fatal(res)
				}
			}
		})
	}
}

// BenchmarkParse measures template compilation, which happens once per
// binding when contracts are loaded.
func BenchmarkParse(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := httprule.Parse("/v1/{book.name=shelves/*/books/*}:publish"); err != nil {
			b.Fatal(err)
		}
	}
}
