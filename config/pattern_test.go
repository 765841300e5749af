package config_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/config"
)

func TestValidPattern(t *testing.T) {
	t.Parallel()
	tests := []struct {
		p       string
		wantErr string // "" for a valid pattern
	}{
		{"*", ""},
		{"sluice", ""},
		{"sluice.demo.library.v1", ""},
		{"sluice.demo.library.v1.Library", ""},
		{"sluice.demo.library.v1.Library.GetBook", ""},
		{"sluice.demo.library.v1.*", ""},
		{"sluice.demo.library.v1.Lib*", ""},
		{"_x.y_2.Z", ""},
		{"", "must not be empty"},
		{"**", "only once, at the end"},
		{"a.*.b", "only once, at the end"},
		{"*.a", "only once, at the end"},
		{"a b", "must not contain spaces"},
		{"a.b\t", "must not contain spaces"},
		{"/a.B/C", `must not contain "/"`},
		{"a/B", `must not contain "/"`},
		{".a", "empty name component"},
		{"a.", "empty name component"},
		{"a..b", "empty name component"},
		{".*", "empty name component"},
		{"a..*", "empty name component"},
		{"1a.b", "not a protobuf identifier"},
		{"a.b-c", "not a protobuf identifier"},
		{"a.é", "not a protobuf identifier"},
		{"a=b", "not a protobuf identifier"},
	}
	for _, tt := range tests {
		t.Run(tt.p, func(t *testing.T) {
			t.Parallel()
			err := config.ValidPattern(tt.p)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("ValidPattern(%q) = %v, want nil", tt.p, err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("ValidPattern(%q) = %v, want an error containing %q", tt.p, err, tt.wantErr)
			}
		})
	}
}

func TestParseUpstreamFlag(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in          string
		wantTarget  string
		wantMethods []string
		wantErr     string
	}{
		{in: "*=127.0.0.1:50051", wantTarget: "127.0.0.1:50051", wantMethods: []string{"*"}},
		{in: "sluice.demo.library.v1.*=dns:///library:50051", wantTarget: "dns:///library:50051", wantMethods: []string{"sluice.demo.library.v1.*"}},
		{in: " a.B , c.D.E = localhost:1 ", wantTarget: "localhost:1", wantMethods: []string{"a.B", "c.D.E"}},
		{in: "a=[::1]:50051", wantTarget: "[::1]:50051", wantMethods: []string{"a"}},
		{in: "a=dns:///library", wantTarget: "dns:///library", wantMethods: []string{"a"}},
		{in: "a=dns://8.8.8.8/library:50051", wantTarget: "dns://8.8.8.8/library:50051", wantMethods: []string{"a"}},
		{in: "a=dns:library:50051", wantTarget: "dns:library:50051", wantMethods: []string{"a"}},
		{in: "a=unix:///run/x.sock", wantTarget: "unix:///run/x.sock", wantMethods: []string{"a"}},
		{in: "a=unix:x.sock", wantTarget: "unix:x.sock", wantMethods: []string{"a"}},
		{in: "a=unix-abstract:x", wantTarget: "unix-abstract:x", wantMethods: []string{"a"}},
		{in: "a=passthrough:///10.0.0.1:50051", wantTarget: "passthrough:///10.0.0.1:50051", wantMethods: []string{"a"}},
		{in: "a=xds:///library", wantTarget: "xds:///library", wantMethods: []string{"a"}},
		{in: "127.0.0.1:50051", wantErr: "want PATTERN=TARGET"},
		{in: "", wantErr: "want PATTERN=TARGET"},
		{in: "=127.0.0.1:50051", wantErr: "must not be empty"},
		{in: "a=", wantErr: "target must not be empty"},
		{in: "a,=h:1", wantErr: "must not be empty"},
		{in: "a b=h:1", wantErr: "must not contain spaces"},
		{in: "/a.B/C=h:1", wantErr: `must not contain "/"`},
		{in: "a=library", wantErr: "must be host:port"},
		{in: "a=library:", wantErr: "port between 1 and 65535"},
		{in: "a=library:0", wantErr: "port between 1 and 65535"},
		{in: "a=library:70000", wantErr: "port between 1 and 65535"},
		{in: "a=:50051", wantErr: "must name a host"},
		{in: "a=http://library:80", wantErr: `unknown scheme "http"`},
		{in: "a=dns:///", wantErr: "must name a host"},
		{in: "a=dns:///:50051", wantErr: "must name a host"},
		{in: "a=dns:///library:x", wantErr: "port between 1 and 65535"},
		{in: "a=unix://host/run/x.sock", wantErr: "must not have an authority"},
		{in: "a=unix:", wantErr: "must name an endpoint"},
		{in: "a=passthrough:///", wantErr: "must name an endpoint"},
		{in: "a=dns:///li brary:1", wantErr: "must not contain spaces"},
		{in: "a=dns:///%zz", wantErr: "must be a valid URL"},
		{in: "a..b=h", wantErr: "empty name component"}, // every problem at once
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			u, err := config.ParseUpstreamFlag(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("ParseUpstreamFlag(%q) = %+v, %v; want an error containing %q", tt.in, u, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseUpstreamFlag(%q): %v", tt.in, err)
			}
			want := config.DefaultUpstream()
			want.Target, want.Methods = tt.wantTarget, tt.wantMethods
			if !reflect.DeepEqual(u, want) {
				t.Errorf("ParseUpstreamFlag(%q) = %+v, want %+v", tt.in, u, want)
			}
		})
	}

	// Both halves of a bad flag are reported in one error.
	_, err := config.ParseUpstreamFlag("a..b=library")
	if err == nil || !strings.Contains(err.Error(), "empty name component") || !strings.Contains(err.Error(), "must be host:port") {
		t.Errorf("ParseUpstreamFlag(a..b=library) = %v, want both the pattern and the target problem", err)
	}
}
