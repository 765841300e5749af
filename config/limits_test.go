package config_test

import (
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/config"
)

func TestLimitsDefaults(t *testing.T) {
	t.Parallel()
	d := config.Default()
	if got := time.Duration(d.Limits.SendStallTimeout); got != time.Minute {
		t.Errorf("default send_stall_timeout = %v, want 1m", got)
	}
	if d.Limits.MaxInFlight != 0 || len(d.Limits.Methods) != 0 {
		t.Errorf("default limits = %+v, want no concurrency or method limits", d.Limits)
	}
}

func TestLimitsParse(t *testing.T) {
	t.Parallel()
	const doc = `
limits:
  send_stall_timeout: 30s
  max_in_flight: 5000
  max_in_flight_per_key: 100
  key: metadata:x-tenant
  queue_timeout: 50ms
  methods:
    - methods: [sluice.demo.library.v1.LibraryService.ListBooks]
      max_in_flight: 10
      max_send_msg_size: 1MiB
    - methods: ["sluice.demo.*"]
      messages_per_second: 100
      messages_per_second_per_key: 1000
      burst: 10
`
	cfg, err := config.Parse([]byte(doc), "sluice.yaml")
	if err != nil {
		t.Fatal(err)
	}
	l := cfg.Limits
	if time.Duration(l.SendStallTimeout) != 30*time.Second || l.MaxInFlight != 5000 || l.MaxInFlightPerKey != 100 ||
		l.Key != "metadata:x-tenant" || time.Duration(l.QueueTimeout) != 50*time.Millisecond {
		t.Errorf("limits = %+v", l)
	}
	if len(l.Methods) != 2 || l.Methods[0].MaxInFlight != 10 || l.Methods[0].MaxSendMsgSize != 1<<20 ||
		l.Methods[1].MessagesPerSecond != 100 || l.Methods[1].Burst != 10 {
		t.Errorf("limits.methods = %+v", l.Methods)
	}
}

func TestLimitsValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		limits config.Limits
		want   []string // substrings of the error, one per problem; none: valid
	}{
		{name: "defaults"},
		{name: "every key spelling", limits: config.Limits{Key: "identity", MaxInFlightPerKey: 1}},
		{name: "client ip", limits: config.Limits{Key: "client_ip", MaxInFlightPerKey: 1}},
		{
			name:   "negatives",
			limits: config.Limits{SendStallTimeout: -1, QueueTimeout: -1, MaxInFlight: -1, MaxInFlightPerKey: -1},
			want:   []string{"limits.send_stall_timeout: must not be negative", "limits.queue_timeout: must not be negative", "limits.max_in_flight: must not be negative", "limits.max_in_flight_per_key: must not be negative"},
		},
		{
			name:   "per key without key",
			limits: config.Limits{MaxInFlightPerKey: 3, Methods: []config.MethodLimits{{Methods: []string{"*"}, MessagesPerSecondPerKey: 5}}},
			want:   []string{"limits.max_in_flight_per_key: needs limits.key", "limits.methods[0].messages_per_second_per_key: needs limits.key"},
		},
		{
			name:   "bad keys",
			limits: config.Limits{Key: "peer"},
			want:   []string{"limits.key: must be identity, api_key, client_ip, method or metadata:NAME"},
		},
		{
			name:   "bad header",
			limits: config.Limits{Key: "metadata:grpc-timeout"},
			want:   []string{"limits.key: \"metadata:grpc-timeout\": grpc- headers are reserved"},
		},
		{
			// The limiters' key function takes the rate limits' header
			// rules: a name it would refuse at start-up fails here.
			name:   "header not as metadata",
			limits: config.Limits{Key: "metadata:X-Tenant"},
			want:   []string{"limits.key: \"metadata:X-Tenant\": metadata key \"X-Tenant\": only lower case"},
		},
		{
			name: "method entries",
			limits: config.Limits{Methods: []config.MethodLimits{
				{MaxInFlight: 1},
				{Methods: []string{"a.b/c"}, MaxInFlight: 1},
				{Methods: []string{"a.*"}, MaxInFlight: 1},
				{Methods: []string{"a.*"}, Burst: -1, MaxInFlight: 1},
				{Methods: []string{"b"}},
				{Methods: []string{"c"}, MaxRecvMsgSize: 8 << 20, MaxSendMsgSize: -1},
			}},
			want: []string{
				"limits.methods[0].methods: must list at least one",
				"limits.methods[1].methods[0]: method pattern \"a.b/c\" must not contain",
				"limits.methods[3].methods[0]: pattern \"a.*\" is also at limits.methods[2].methods[0]",
				"limits.methods[3].burst: must not be negative",
				"limits.methods[4]: sets no limit",
				"limits.methods[5].max_recv_msg_size: must be at most 4MiB (server.max_recv_msg_size)",
				"limits.methods[5].max_send_msg_size: must not be negative",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := config.Default()
			if tt.limits.SendStallTimeout == 0 && tt.name != "defaults" {
				tt.limits.SendStallTimeout = cfg.Limits.SendStallTimeout
			}
			if tt.name != "defaults" {
				cfg.Limits = tt.limits
			}
			err := cfg.Validate()
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Validate: no error")
			}
			msg := err.Error()
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error lacks %q:\n%s", w, msg)
				}
			}
			got := 0
			for line := range strings.Lines(msg) {
				if strings.HasPrefix(strings.TrimSpace(line), "limits.") {
					got++
				}
			}
			if got != len(tt.want) {
				t.Errorf("%d problems reported under limits, want %d:\n%s", got, len(tt.want), msg)
			}
		})
	}
}
