package config_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/config"
)

// parseErrors parses doc, which must fail, and returns its problems.
func parseErrors(t *testing.T, doc string) config.Errors {
	t.Helper()
	cfg, err := config.Parse([]byte(doc), "test.yaml")
	if err == nil {
		t.Fatalf("Parse succeeded, want errors; config: %+v", cfg)
	}
	if cfg != nil {
		t.Errorf("Parse returned a config along with an error")
	}
	var errs *config.Errors
	if !errors.As(err, &errs) {
		t.Fatalf("Parse error is %T, want *config.Errors: %v", err, err)
	}
	for _, e := range *errs {
		if e.Source != "test.yaml" {
			t.Errorf("error %q has source %q, want test.yaml", e.Error(), e.Source)
		}
		if e.Msg == "" {
			t.Errorf("error %+v has no message", e)
		}
	}
	return *errs
}

// want describes one expected problem.
type want struct {
	path      string
	line, col int
	msg       string // a substring of the message
}

func checkErrors(t *testing.T, got config.Errors, wants []want) {
	t.Helper()
	if len(got) != len(wants) {
		t.Errorf("got %d problems, want %d:\n%v", len(got), len(wants), got)
	}
	for i, w := range wants {
		if i >= len(got) {
			break
		}
		g := got[i]
		if g.Path != w.path || g.Line != w.line || g.Column != w.col || !strings.Contains(g.Msg, w.msg) {
			t.Errorf("problem %d = %d:%d %s: %q\nwant %d:%d %s: message containing %q", i, g.Line, g.Column, g.Path, g.Msg, w.line, w.col, w.path, w.msg)
		}
	}
}

func TestParseGood(t *testing.T) {
	t.Parallel()
	withUpstream := func(mods ...func(*config.Config)) config.Config {
		c := config.Default()
		u := config.DefaultUpstream()
		u.Target = "127.0.0.1:50051"
		u.Methods = []string{"*"}
		c.Upstreams = []config.Upstream{u}
		for _, m := range mods {
			m(&c)
		}
		return c
	}
	tests := []struct {
		name string
		doc  string
		want config.Config
	}{
		{"empty", "", config.Default()},
		{"only comments", "# nothing here\n", config.Default()},
		{"explicit null document", "---\n~\n", config.Default()},
		{"empty mapping", "{}", config.Default()},
		{"null values keep defaults", "listen:\ntls:\nserver:\n  keepalive: ~\n", config.Default()},
		{
			name: "scalars",
			doc:  "listen: ':0'\nadmin: ''\nlog: {level: debug, format: text}\n",
			want: func() config.Config {
				c := config.Default()
				c.Listen, c.Admin = ":0", ""
				c.Log = config.Log{Level: config.LogDebug, Format: config.LogText}
				return c
			}(),
		},
		{
			name: "upstream defaults fill unset keys",
			doc:  "upstreams:\n  - target: 127.0.0.1:50051\n    methods: ['*']\n",
			want: withUpstream(),
		},
		{
			name: "upstream keys",
			doc: `upstreams:
  - name: lib
    target: 127.0.0.1:50051
    methods: ["*"]
    keepalive: {time: 1m, timeout: 5s, permit_without_stream: true}
    load_balancing: pick_first
    connect_timeout: 1m30s
    health_check: {enabled: true, service: library}
`,
			want: withUpstream(func(c *config.Config) {
				u := &c.Upstreams[0]
				u.Name = "lib"
				u.Keepalive = config.UpstreamKeepalive{Time: config.Duration(time.Minute), Timeout: config.Duration(5 * time.Second), PermitWithoutStream: true}
				u.LoadBalancing = config.PickFirst
				u.ConnectTimeout = config.Duration(90 * time.Second)
				u.HealthCheck = config.HealthCheck{Enabled: true, Service: "library"}
			}),
		},
		{
			name: "server limits",
			doc: `server:
  max_concurrent_streams: 10
  max_recv_msg_size: 16MiB
  max_send_msg_size: 1048576
  max_header_list_size: 8 KiB
  initial_window_size: 1MB
  initial_conn_window_size: 1048576
  keepalive: {time: 1s, max_connection_age: 30m, max_connection_age_grace: 0}
  shutdown_grace: 0s
`,
			want: func() config.Config {
				c := config.Default()
				s := &c.Server
				s.MaxConcurrentStreams = 10
				s.MaxRecvMsgSize = 16 << 20
				s.MaxSendMsgSize = 1 << 20
				s.MaxHeaderListSize = 8 << 10
				s.InitialWindowSize = 1e6
				s.InitialConnWindowSize = 1 << 20
				s.Keepalive.Time = config.Duration(time.Second)
				s.Keepalive.MaxConnectionAge = config.Duration(30 * time.Minute)
				s.ShutdownGrace = 0
				return c
			}(),
		},
		{
			name: "anchors and merge keys",
			doc: `x-common: &common
  keepalive: {time: 45s}
  load_balancing: pick_first
upstreams:
  - <<: *common
    target: 127.0.0.1:50051
    methods: &all ["*"]
    load_balancing: round_robin
`,
			want: withUpstream(func(c *config.Config) {
				c.Upstreams[0].Keepalive.Time = config.Duration(45 * time.Second)
			}),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := config.Parse([]byte(tt.doc), "test.yaml")
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if !reflect.DeepEqual(*got, tt.want) {
				t.Errorf("Parse =\n%+v\nwant\n%+v", *got, tt.want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		doc  string
		want []want
	}{
		{"syntax error", "listen: [\n", []want{{"", 1, 0, "invalid YAML"}}},
		{"tab indentation", "server:\n\tmax_concurrent_streams: 1\n", []want{{"", 2, 0, "invalid YAML"}}},
		{"two documents", "listen: ':1'\n---\nlisten: ':2'\n", []want{{"", 2, 1, "second one"}}},
		{"root is a list", "- a\n- b\n", []want{{"", 1, 1, "must be a mapping"}}},
		{"root is a scalar", "hello\n", []want{{"", 1, 1, `must be a mapping of keys to values, got "hello"`}}},
		{"unknown top-level key", "listen: ':1'\nlistne: ':2'\n", []want{{"listne", 2, 1, `unknown key; did you mean "listen"?`}}},
		{"x- keys only at the top", "server:\n  x-a: 1\n", []want{{"server.x-a", 2, 3, "unknown key"}}},
		{"unknown key without suggestion", "frobnicate: 1\n", []want{{"frobnicate", 1, 1, "unknown key"}}},
		{"unknown nested key", "server:\n  keepalive:\n    tme: 1s\n", []want{{"server.keepalive.tme", 3, 5, `did you mean "time"?`}}},
		{"unknown key in upstream", "upstreams:\n  - target: a:1\n    methods: ['*']\n    weight: 3\n", []want{{"upstreams[0].weight", 4, 5, "unknown key"}}},
		{"duplicate key", "listen: ':1'\nlisten: ':2'\n", []want{{"listen", 2, 1, "duplicate key (first at line 1)"}}},
		{"non-string key", "? [a]\n: 1\n", []want{{"", 1, 3, "keys must be strings"}}},
		{"string expected", "listen: [a]\n", []want{{"listen", 1, 9, "must be a string, got a list"}}},
		{"mapping expected", "tls: on\n", []want{{"tls", 1, 6, `must be a mapping, got "on"`}}},
		{"list expected", "descriptor_sets: a.binpb\n", []want{{"descriptor_sets", 1, 18, `must be a list, got "a.binpb"`}}},
		{"bool expected", "upstreams:\n  - target: a:1\n    methods: ['*']\n    tls: {enabled: yes}\n", []want{{"upstreams[0].tls.enabled", 4, 20, `must be true or false, got "yes"`}}},
		{"integer expected", "server: {max_concurrent_streams: many}\n", []want{{"server.max_concurrent_streams", 1, 34, `must be an integer between 0 and 4294967295, got "many"`}}},
		{"integer too large", "server: {max_concurrent_streams: 4294967296}\n", []want{{"server.max_concurrent_streams", 1, 34, "between 0 and 4294967295"}}},
		{"float is not an integer", "server: {max_concurrent_streams: 1.5}\n", []want{{"server.max_concurrent_streams", 1, 34, `got "1.5"`}}},
		{"duration without unit", "server: {sniff_timeout: 10}\n", []want{{"server.sniff_timeout", 1, 25, `must be a duration like "30s"`}}},
		{"duration as mapping", "server: {sniff_timeout: {s: 1}}\n", []want{{"server.sniff_timeout", 1, 25, "got a mapping"}}},
		{"negative duration", "server: {shutdown_grace: -1s}\n", []want{{"server.shutdown_grace", 1, 26, "must not be negative"}}},
		{"zero timeout", "server: {sniff_timeout: 0s}\n", []want{{"server.sniff_timeout", 1, 25, "must be greater than 0"}}},
		{"bad size", "server: {max_recv_msg_size: 4 megs}\n", []want{{"server.max_recv_msg_size", 1, 29, "must be a size"}}},
		{"size overflow", "server: {max_recv_msg_size: 9999999TiB}\n", []want{{"server.max_recv_msg_size", 1, 29, "too large"}}},
		{"size out of range", "server: {max_recv_msg_size: 2GiB}\n", []want{{"server.max_recv_msg_size", 1, 29, "must be between 1 and 1GiB, got 2GiB"}}},
		{"zero size", "server: {max_send_msg_size: 0}\n", []want{{"server.max_send_msg_size", 1, 29, "must be between 1 and 1GiB"}}},
		{"window too small", "server: {initial_window_size: 1KiB}\n", []want{{"server.initial_window_size", 1, 31, "0 (dynamic) or between 64KiB"}}},
		{"no streams", "server: {max_concurrent_streams: 0}\n", []want{{"server.max_concurrent_streams", 1, 34, "at least 1"}}},
		{"server keepalive too short", "server: {keepalive: {time: 500ms}}\n", []want{{"server.keepalive.time", 1, 28, "at least 1s, got 500ms"}}},
		{"bad enum", "log: {level: verbose}\n", []want{{"log.level", 1, 14, `must be one of debug, info, warn, error, got "verbose"`}}},
		{"bad listen", "listen: localhost\n", []want{{"listen", 1, 9, "must be host:port"}}},
		{"empty listen", "listen: ''\n", []want{{"listen", 1, 9, "must not be empty"}}},
		{"bad port", "listen: ':http'\n", []want{{"listen", 1, 9, "numeric port"}}},
		{"admin on listen port", "listen: ':8080'\nadmin: '127.0.0.1:8080'\n", []want{{"admin", 2, 8, "must differ from listen"}}},
		{"missing target", "upstreams:\n  - methods: ['*']\n", []want{{"upstreams[0].target", 2, 5, "must not be empty"}}},
		{"missing methods", "upstreams:\n  - target: a:1\n", []want{{"upstreams[0].methods", 2, 5, "at least one method pattern"}}},
		{"empty methods", "upstreams:\n  - target: a:1\n    methods: []\n", []want{{"upstreams[0].methods", 3, 14, "at least one"}}},
		{"bad pattern", "upstreams:\n  - target: a:1\n    methods: ['a.b', '/a.B/C']\n", []want{{"upstreams[0].methods[1]", 3, 22, `must not contain "/"`}}},
		{"bad target", "upstreams:\n  - target: 'http://a:1'\n    methods: ['*']\n", []want{{"upstreams[0].target", 2, 13, `unknown scheme "http"`}}},
		{
			name: "same pattern on two upstreams",
			doc:  "upstreams:\n  - {name: a, target: a:1, methods: [x.y]}\n  - {name: b, target: b:1, methods: [z, x.y]}\n",
			want: []want{{"upstreams[1].methods[1]", 3, 41, `pattern "x.y" is also routed to upstream "a" (upstreams[0].methods[0])`}},
		},
		{
			name: "same pattern twice on one upstream",
			doc:  "upstreams:\n  - {target: a:1, methods: [x, x]}\n",
			want: []want{{"upstreams[0].methods[1]", 2, 32, `listed twice (also upstreams[0].methods[0])`}},
		},
		{
			name: "duplicate names",
			doc:  "upstreams:\n  - {name: a, target: a:1, methods: [x]}\n  - {name: a, target: b:1, methods: [y]}\n",
			want: []want{{"upstreams[1].name", 3, 12, `"a" is already the name of upstreams[0]`}},
		},
		{
			name: "duplicate names from targets",
			doc:  "upstreams:\n  - {target: a:1, methods: [x]}\n  - {target: a:1, methods: [y]}\n",
			want: []want{{"upstreams[1].name", 3, 5, `"a:1" (taken from target) is already the name of upstreams[0]`}},
		},
		{
			name: "upstream tls keys without enabled",
			doc:  "upstreams:\n  - target: a:1\n    methods: ['*']\n    tls:\n      server_name: a.example\n",
			want: []want{{"upstreams[0].tls.enabled", 5, 7, "must be true when other tls keys are set"}},
		},
		{
			name: "client keepalive below gRPC minimum",
			doc:  "upstreams:\n  - target: a:1\n    methods: ['*']\n    keepalive: {time: 5s}\n",
			want: []want{{"upstreams[0].keepalive.time", 4, 23, "at least 10s"}},
		},
		{
			name: "health service without enabled",
			doc:  "upstreams:\n  - target: a:1\n    methods: ['*']\n    health_check: {service: x}\n",
			want: []want{{"upstreams[0].health_check.enabled", 4, 19, "must be true"}},
		},
		{
			name: "client_auth without CA",
			doc:  "tls:\n  client_auth: require_and_verify\n",
			want: []want{
				{"tls.client_ca_file", 2, 3, "must be set when client_auth is require_and_verify"},
				{"tls.cert_file", 2, 3, "TLS is off without it"},
			},
		},
		{"missing tls file", "tls:\n  cert_file: /does/not/exist.pem\n  key_file: /does/not/exist.key\n", []want{
			{"tls.cert_file", 2, 14, "cannot read"},
			{"tls.key_file", 3, 13, "cannot read"},
		}},
		{"missing descriptor set", "descriptor_sets: [/does/not/exist.binpb]\n", []want{{"descriptor_sets[0]", 1, 19, "no such file"}}},
		{"type error hides its validation error", "upstreams:\n  - target: [a]\n    methods: ['*']\n", []want{{"upstreams[0].target", 2, 13, "must be a string"}}},
		{"alias to wrong type", "upstreams:\n  - target: &t {a: 1}\n    methods: ['*']\n    name: *t\n", []want{
			{"upstreams[0].target", 2, 13, "must be a string, got a mapping"},
			{"upstreams[0].name", 2, 13, "must be a string, got a mapping"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			checkErrors(t, parseErrors(t, tt.doc), tt.want)
		})
	}
}

func TestParseReportsEveryProblem(t *testing.T) {
	t.Parallel()
	doc := `listen: nowhere
bogus: true
tls:
  cert_file: /does/not/exist.pem
upstreams:
  - target: ""
    methods: ["a b"]
  - target: b:1
    methods: ["*"]
    load_balancing: random
server:
  max_recv_msg_size: 0
  keepalive:
    timeout: -5s
log:
  format: xml
`
	checkErrors(t, parseErrors(t, doc), []want{
		{"listen", 1, 9, "must be host:port"},
		{"bogus", 2, 1, "unknown key"},
		{"tls.key_file", 4, 3, "must be set when cert_file is set"},
		{"tls.cert_file", 4, 14, "cannot read"},
		{"upstreams[0].target", 6, 13, "must not be empty"},
		{"upstreams[0].methods[0]", 7, 15, "must not contain spaces"},
		{"upstreams[1].load_balancing", 10, 21, "must be one of round_robin, pick_first"},
		{"server.max_recv_msg_size", 12, 22, "must be between 1 and 1GiB"},
		{"server.keepalive.timeout", 14, 14, "must not be negative"},
		{"log.format", 16, 11, "must be one of json, text"},
	})
}

func TestParseAliasBomb(t *testing.T) {
	t.Parallel()
	// 1200 upstreams, each naming the same 1000 method patterns: a 10KB
	// document that expands to more than a million values.
	var b strings.Builder
	b.WriteString("upstreams:\n  - &u {target: a:1, methods: &m [")
	for i := range 1000 {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("a")
	}
	b.WriteString("]}\n")
	for range 1200 {
		b.WriteString("  - *u\n")
	}
	errs := parseErrors(t, b.String())
	if len(errs) > 201 {
		t.Errorf("got %d problems, want at most 201", len(errs))
	}
	if last := errs[len(errs)-1]; len(errs) > 200 && last.Msg != "too many problems; stopped reporting" {
		t.Errorf("last problem of a cut list = %q, want the cut marker", last.Msg)
	}
	if !strings.Contains(errs.Error(), "document too large once aliases are expanded") {
		t.Errorf("problems do not mention the expansion:\n%.2000s", errs.Error())
	}
	// No bound on the time it took: the refusal of the expansion above is
	// what keeps it short, and a wall-clock check would only measure how
	// loaded the machine is.
}

func TestParseMergeKeySelfReference(t *testing.T) {
	t.Parallel()
	// yaml.v3 lets an anchor's own content name it; merging must stop.
	doc := "upstreams:\n  - &u {target: a:1, methods: [x], <<: *u}\n"
	if _, err := config.Parse([]byte(doc), "test.yaml"); err != nil {
		t.Logf("Parse: %v", err) // an error is fine; hanging or panicking is not
	}
}

func TestLoad(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	if err := os.WriteFile(good, []byte("listen: ':0'\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(good)
	if err != nil {
		t.Fatalf("Load(%s): %v", good, err)
	}
	if cfg.Listen != ":0" {
		t.Errorf("Listen = %q, want :0", cfg.Listen)
	}

	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("\nlisten: ''\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = config.Load(bad)
	if want := bad + ":2:9: listen: must not be empty"; err == nil || err.Error() != want {
		t.Errorf("Load(%s) error = %v, want %s", bad, err, want)
	}

	_, err = config.Load(filepath.Join(dir, "missing.yaml"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Load(missing) error = %v, want fs.ErrNotExist", err)
	}
}

func TestParseFilesThatExist(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := func(name string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cert, key, ca, set := file("tls.crt"), file("tls.key"), file("ca.pem"), file("api.binpb")
	doc := `tls:
  cert_file: ` + cert + `
  key_file: ` + key + `
  client_ca_file: ` + ca + `
  client_auth: require_and_verify
  min_version: "1.3"
descriptor_sets: [` + set + `]
upstreams:
  - target: dns:///library:50051
    methods: [sluice.demo.library.v1.*]
    tls: {enabled: true, ca_file: ` + ca + `, cert_file: ` + cert + `, key_file: ` + key + `, server_name: library}
`
	cfg, err := config.Parse([]byte(doc), "test.yaml")
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if cfg.TLS.ClientAuth != config.ClientAuthRequireAndVerify || cfg.TLS.MinVersion != config.TLS13 {
		t.Errorf("TLS = %+v", cfg.TLS)
	}
	if got := cfg.Upstreams[0].TLS; !got.Enabled || got.CAFile != ca || got.ServerName != "library" {
		t.Errorf("upstream TLS = %+v", got)
	}

	// A directory is not a file.
	_, err = config.Parse([]byte("descriptor_sets: ["+dir+"]\n"), "test.yaml")
	if err == nil || !strings.Contains(err.Error(), "is a directory") {
		t.Errorf("Parse with a directory as descriptor set: error = %v, want one saying it is a directory", err)
	}
}

func TestParseCapsProblems(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	b.WriteString("upstreams:\n")
	for range 300 {
		b.WriteString("  - {target: a:1, methods: [x]}\n") // each a duplicate
	}
	b.WriteString("bogus: 1\n")
	errs := parseErrors(t, b.String())
	if len(errs) != 201 {
		t.Fatalf("got %d problems, want 200 and a cut marker", len(errs))
	}
	if last := errs[200]; last.Msg != "too many problems; stopped reporting" {
		t.Errorf("last problem = %q, want the cut marker", last.Msg)
	}
	if first := errs[0]; first.Path != "upstreams[1].name" || first.Line != 3 {
		t.Errorf("first problem = %v, want the duplicate name of upstreams[1] at line 3", first)
	}
}

func TestParseCapsDecodeProblems(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	for i := range 250 {
		b.WriteString("bogus" + strings.Repeat("x", i) + ": 1\n")
	}
	errs := parseErrors(t, b.String())
	if len(errs) != 201 || errs[200].Msg != "too many problems; stopped reporting" || errs[199].Path != "bogus"+strings.Repeat("x", 199) {
		t.Errorf("got %d problems ending in %v, want 200 unknown keys and the cut marker", len(errs), errs[len(errs)-1])
	}
}
