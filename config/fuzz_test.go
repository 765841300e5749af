package config_test

import (
	"errors"
	"testing"

	"github.com/sluice-dev/sluice/config"
	"gopkg.in/yaml.v3"
)

// FuzzParse checks that Parse never panics, that it returns either a config
// or an *Errors with positioned messages, and that every config it accepts
// survives a marshal and parse round trip.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		"",
		config.ExampleYAML,
		"listen: ':0'\nadmin: ''\n",
		"upstreams:\n  - {target: a:1, methods: ['*'], keepalive: {time: 1m}}\n",
		"upstreams:\n  - <<: &c {load_balancing: pick_first}\n    target: unix:///x\n    methods: [a.b.*]\n",
		"server: {max_recv_msg_size: 8MiB, keepalive: {time: 1s}}\n",
		"a: &a [*a]\n",
		"---\n---\n",
		"tls: {client_auth: request}\n",
		"upstreams: &l [*l]\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := config.Parse(data, "fuzz.yaml")
		if err != nil {
			if cfg != nil {
				t.Fatal("Parse returned a config and an error")
			}
			var errs *config.Errors
			if !errors.As(err, &errs) || len(*errs) == 0 {
				t.Fatalf("Parse error %v (%T) is not a non-empty *config.Errors", err, err)
			}
			for _, e := range *errs {
				if e.Msg == "" || e.Source != "fuzz.yaml" {
					t.Fatalf("malformed problem %+v", e)
				}
			}
			return
		}
		out, err := yaml.Marshal(cfg)
		if err != nil {
			t.Fatalf("Marshal(%+v): %v", cfg, err)
		}
		back, err := config.Parse(out, "fuzz.yaml")
		if err != nil {
			t.Fatalf("Parse(Marshal(cfg)): %v\n%s", err, out)
		}
		if !equalYAML(t, back, cfg) {
			t.Fatalf("round trip changed the config:\n%s", out)
		}
	})
}
