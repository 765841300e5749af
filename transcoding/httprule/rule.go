package httprule

import (
	"fmt"

	"google.golang.org/genproto/googleapis/api/annotations"
)

// ParseRule returns the HTTP method and the parsed path template of one
// google.api.http binding: get, put, post, delete, patch, or custom (whose
// kind is the method). It ignores rule.AdditionalBindings, which the caller
// passes here one by one, so each binding keeps its own body settings.
func ParseRule(rule *annotations.HttpRule) (method string, tmpl *Template, err error) {
	var path string
	switch p := rule.GetPattern().(type) {
	case *annotations.HttpRule_Get:
		method, path = "GET", p.Get
	case *annotations.HttpRule_Put:
		method, path = "PUT", p.Put
	case *annotations.HttpRule_Post:
		method, path = "POST", p.Post
	case *annotations.HttpRule_Delete:
		method, path = "DELETE", p.Delete
	case *annotations.HttpRule_Patch:
		method, path = "PATCH", p.Patch
	case *annotations.HttpRule_Custom:
		if p.Custom == nil || !isToken(p.Custom.GetKind()) {
			return "", nil, fmt.Errorf("http rule %q: custom kind %q is not an HTTP method token",
				rule.GetSelector(), p.Custom.GetKind())
		}
		method, path = p.Custom.GetKind(), p.Custom.GetPath()
	default:
		return "", nil, fmt.Errorf("http rule %q: no pattern (get, put, post, delete, patch or custom)", rule.GetSelector())
	}
	tmpl, err = Parse(path)
	if err != nil {
		return "", nil, fmt.Errorf("http rule %q: %w", rule.GetSelector(), err)
	}
	return method, tmpl, nil
}
