package server

import (
	"fmt"
	"sort"
	"strings"

	"github.com/sluice-dev/sluice/config"
)

// Route maps a method pattern to an upstream. A pattern is a package,
// service or method full name ("library.v1", "library.v1.LibraryService",
// "library.v1.LibraryService.GetBook"), optionally ending in "*" to match
// any name with that prefix ("library.*"); "*" alone matches every method.
// A pattern without "*" matches the name itself and every name below it
// ("library.v1" matches "library.v1.LibraryService.GetBook" but not
// "library.v10.X").
type Route struct {
	Pattern  string
	Upstream string // the upstream's name
}

// routeTable picks the upstream for a method: the most specific pattern
// wins, that is the longest literal part, and at equal length a pattern
// without "*" beats one with it. It is immutable once built.
type routeTable struct {
	routes []compiledRoute // most specific first
}

type compiledRoute struct {
	prefix   string // the literal part of the pattern
	wildcard bool   // the pattern ended in "*"
	route    Route
}

func newRouteTable(routes []Route) (*routeTable, error) {
	t := &routeTable{}
	seen := make(map[string]string, len(routes))
	for _, r := range routes {
		if err := config.ValidPattern(r.Pattern); err != nil {
			return nil, err
		}
		if prev, ok := seen[r.Pattern]; ok && prev != r.Upstream {
			return nil, fmt.Errorf("pattern %q routes to both %q and %q", r.Pattern, prev, r.Upstream)
		}
		seen[r.Pattern] = r.Upstream
		t.routes = append(t.routes, compiledRoute{
			prefix:   strings.TrimSuffix(r.Pattern, "*"),
			wildcard: strings.HasSuffix(r.Pattern, "*"),
			route:    r,
		})
	}
	sort.SliceStable(t.routes, func(i, j int) bool {
		a, b := t.routes[i], t.routes[j]
		if len(a.prefix) != len(b.prefix) {
			return len(a.prefix) > len(b.prefix)
		}
		return !a.wildcard && b.wildcard
	})
	return t, nil
}

// lookup returns the upstream name for the method at path
// ("/pkg.Service/Method"), or false when no pattern matches.
func (t *routeTable) lookup(path string) (string, bool) {
	name := fullName(path)
	for _, r := range t.routes {
		if r.matches(name) {
			return r.route.Upstream, true
		}
	}
	return "", false
}

func (r compiledRoute) matches(name string) bool {
	if r.wildcard {
		return strings.HasPrefix(name, r.prefix)
	}
	return name == r.prefix || (strings.HasPrefix(name, r.prefix) && name[len(r.prefix)] == '.')
}
