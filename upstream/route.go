package upstream

import (
	"fmt"

	"github.com/sluice-dev/sluice/methodpattern"
)

// Route maps a method pattern to an upstream. Patterns follow package
// methodpattern: a package, service or method full name ("library.v1",
// "library.v1.LibraryService", "library.v1.LibraryService.GetBook"), which
// matches that name and every name below it, or a prefix ending in "*"
// ("library.*"); "*" alone matches every method.
type Route struct {
	Pattern  string
	Upstream string // the upstream's name
}

// routeTable picks the upstream for a method by the most specific pattern.
// It is immutable once built.
type routeTable struct {
	patterns methodpattern.Table[string]
}

func newRouteTable(routes []Route) (*routeTable, error) {
	t := &routeTable{}
	seen := make(map[string]string, len(routes))
	for _, r := range routes {
		if prev, ok := seen[r.Pattern]; ok {
			if prev != r.Upstream {
				return nil, fmt.Errorf("pattern %q routes to both %q and %q", r.Pattern, prev, r.Upstream)
			}
			continue
		}
		seen[r.Pattern] = r.Upstream
		if err := t.patterns.Add(r.Pattern, r.Upstream); err != nil {
			return nil, err
		}
	}
	return t, nil
}

// lookup returns the upstream name for the method at path
// ("/pkg.Service/Method"), or false when no pattern matches.
func (t *routeTable) lookup(path string) (string, bool) {
	return t.patterns.Lookup(path)
}
