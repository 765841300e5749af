package httprule_test

import (
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/transcoding/httprule"
	"google.golang.org/genproto/googleapis/api/annotations"
)

func TestParseRule(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		rule    *annotations.HttpRule
		method  string
		tmpl    string
		wantErr string
	}{
		{"get", &annotations.HttpRule{Pattern: &annotations.HttpRule_Get{Get: "/v1/{name=shelves/*}"}}, "GET", "/v1/{name=shelves/*}", ""},
		{"put", &annotations.HttpRule{Pattern: &annotations.HttpRule_Put{Put: "/v1/a"}}, "PUT", "/v1/a", ""},
		{"post", &annotations.HttpRule{Pattern: &annotations.HttpRule_Post{Post: "/v1/a:b"}}, "POST", "/v1/a:b", ""},
		{"delete", &annotations.HttpRule{Pattern: &annotations.HttpRule_Delete{Delete: "/v1/{a}"}}, "DELETE", "/v1/{a}", ""},
		{"patch", &annotations.HttpRule{Pattern: &annotations.HttpRule_Patch{Patch: "/v1/{a=*}"}}, "PATCH", "/v1/{a}", ""},
		{"custom", &annotations.HttpRule{Pattern: &annotations.HttpRule_Custom{Custom: &annotations.CustomHttpPattern{Kind: "HEAD", Path: "/v1/**"}}}, "HEAD", "/v1/**", ""},
		{"custom bad kind", &annotations.HttpRule{Selector: "x.Y.Z", Pattern: &annotations.HttpRule_Custom{Custom: &annotations.CustomHttpPattern{Kind: "NOT A METHOD", Path: "/v1"}}}, "", "", `http rule "x.Y.Z": custom kind "NOT A METHOD"`},
		{"custom nil", &annotations.HttpRule{Pattern: &annotations.HttpRule_Custom{}}, "", "", `custom kind ""`},
		{"no pattern", &annotations.HttpRule{Selector: "x.Y.Z"}, "", "", `http rule "x.Y.Z": no pattern`},
		{"nil rule", nil, "", "", "no pattern"},
		{"bad template", &annotations.HttpRule{Selector: "x.Y.Z", Pattern: &annotations.HttpRule_Get{Get: "/v1/{a"}}, "", "", `http rule "x.Y.Z": parse path template "/v1/{a": column 5`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			method, tmpl, err := httprule.ParseRule(tt.rule)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if method != tt.method || tmpl.String() != tt.tmpl {
				t.Errorf("ParseRule = %q %q, want %q %q", method, tmpl, tt.method, tt.tmpl)
			}
		})
	}
}
