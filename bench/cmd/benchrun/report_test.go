package main

import (
	"strings"
	"testing"
)

// TestCompareFloors: the p50 latency target against direct carries both
// floors of the same cell, tcp-relay's and h2-relay's, and the markdown
// shows them; h2-relay is compared with direct and grpc-proxy.
func TestCompareFloors(t *testing.T) {
	t.Parallel()
	cpu := func(v float64) *float64 { return &v }
	r := &report{Plan: planInfo{Rates: map[string]float64{"unary-small": 3000}}, Rows: []row{
		{Workload: "unary-small", Mode: "rate", System: "direct", P50ms: 0.30, P99ms: 1, Reps: 1},
		{Workload: "unary-small", Mode: "rate", System: "sluice-grpc", P50ms: 0.45, P99ms: 2, GatewayCPU: cpu(4), Reps: 1},
		{Workload: "unary-small", Mode: "rate", System: "grpc-proxy", P50ms: 0.45, P99ms: 2, GatewayCPU: cpu(5), Reps: 1},
		{Workload: "unary-small", Mode: "rate", System: "tcp-relay", P50ms: 0.33, P99ms: 1, GatewayCPU: cpu(1), Reps: 1},
		{Workload: "unary-small", Mode: "rate", System: "h2-relay", P50ms: 0.36, P99ms: 1.2, GatewayCPU: cpu(2), Reps: 1},
	}}
	r.compare()
	var found bool
	for _, tg := range r.Targets {
		if tg.Name == "sluice-grpc p50 ≤ 1.3× direct" {
			found = true
			if !near(tg.Floor, 1.1) || !near(tg.FrameFloor, 1.2) {
				t.Errorf("floors = %.3f, %.3f; want 1.1 (tcp-relay), 1.2 (h2-relay)", tg.Floor, tg.FrameFloor)
			}
		}
	}
	if !found {
		t.Fatalf("no p50 target in %+v", r.Targets)
	}
	want := map[string]bool{"h2-relay/direct": false, "h2-relay/grpc-proxy": false}
	for _, q := range r.Ratios {
		key := q.System + "/" + q.Versus
		if _, ok := want[key]; ok {
			want[key] = true
			if key == "h2-relay/grpc-proxy" && !near(q.CPU, 0.4) {
				t.Errorf("h2-relay ÷ grpc-proxy CPU = %.3f, want 0.4", q.CPU)
			}
		}
	}
	for k, ok := range want {
		if !ok {
			t.Errorf("no %s ratio", k)
		}
	}
	if md := r.markdown(); !strings.Contains(md, "| 1.10× | 1.20× |") {
		t.Errorf("markdown lacks the floors:\n%s", md)
	}
}

func near(a, b float64) bool { return a > b-1e-9 && a < b+1e-9 }
