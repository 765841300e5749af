package main

import (
	"strings"
	"testing"
	"time"
)

func TestParseStatCPU(t *testing.T) {
	t.Parallel()
	// A command name with spaces and a parenthesis; utime 150, stime 50 ticks.
	stat := "4242 (odd) name) S 1 4242 4242 0 -1 4194560 1000 0 0 0 150 50 0 0 20 0 9 0 100 1000000 2000 18446744073709551615"
	got, err := parseStatCPU(stat)
	if err != nil {
		t.Fatal(err)
	}
	if want := 2 * time.Second; got != want {
		t.Errorf("cpu = %s, want %s", got, want)
	}
	for _, bad := range []string{"", "1 (x) S 1 2", "1 (x) S 1 2 3 4 5 6 7 8 9 10 x 2"} {
		if _, err := parseStatCPU(bad); err == nil {
			t.Errorf("parseStatCPU(%q) succeeded", bad)
		}
	}
}

func TestParseH2load(t *testing.T) {
	t.Parallel()
	out := `starting benchmark...
finished in 1.50s, 1340.00 req/s, 112.47MB/s
requests: 2010 total, 2042 started, 2010 done, 2005 succeeded, 5 failed, 3 errored, 2 timeout
status codes: 2005 2xx, 0 3xx, 5 4xx, 0 5xx
`
	s, err := parseH2loadSummary([]byte(out))
	if err != nil {
		t.Fatal(err)
	}
	if s.elapsed != 1500*time.Millisecond || s.done != 2010 || s.errored != 3 || s.timeout != 2 || s.xx2 != 2005 {
		t.Errorf("summary = %+v", s)
	}
	if _, err := parseH2loadSummary([]byte("connect error")); err == nil {
		t.Error("summary parsed from output without one")
	}

	r, err := parseH2loadLog(strings.NewReader("1795306976306727\t200\t1500\n1795306976306587\t404\t900\n\n1795306976306999\t200\t2500\n"))
	if err != nil {
		t.Fatal(err)
	}
	if r.ok != 2 || r.errors != 1 || r.errSample != "HTTP 404" {
		t.Errorf("log = ok %d errors %d sample %q", r.ok, r.errors, r.errSample)
	}
	if len(r.latencies) != 2 || r.latencies[0] != 1500*time.Microsecond || r.latencies[1] != 2500*time.Microsecond {
		t.Errorf("latencies = %v", r.latencies)
	}
	if _, err := parseH2loadLog(strings.NewReader("garbage\n")); err == nil {
		t.Error("malformed log line accepted")
	}
}

func TestParseGHZ(t *testing.T) {
	t.Parallel()
	rep := `{"count":3,"total":2000000000,"details":[
		{"latency":1000000,"error":"","status":"OK"},
		{"latency":3000000,"error":"","status":"OK"},
		{"latency":9000000,"error":"rpc error: code = Unavailable","status":"Unavailable"}]}`
	r, err := parseGHZ([]byte(rep))
	if err != nil {
		t.Fatal(err)
	}
	if r.ok != 2 || r.errors != 1 || r.elapsed != 2*time.Second || !strings.HasPrefix(r.errSample, "Unavailable") {
		t.Errorf("result = %+v", r)
	}
	if _, err := parseGHZ([]byte(`{"count":5,"details":[]}`)); err == nil {
		t.Error("report without details accepted")
	}
}

func TestStatistics(t *testing.T) {
	t.Parallel()
	var d []time.Duration
	for i := 1000; i >= 1; i-- {
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	sortDurations(d)
	for _, c := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 500 * time.Millisecond}, {0.99, 990 * time.Millisecond}, {0.999, 999 * time.Millisecond}, {1, time.Second}} {
		if got := percentile(d, c.q); got != c.want {
			t.Errorf("percentile(%g) = %s, want %s", c.q, got, c.want)
		}
	}
	if percentile(nil, 0.5) != 0 {
		t.Error("percentile of nothing is not zero")
	}
	if m := median([]float64{3, 1, 2}); m != 2 {
		t.Errorf("median odd = %g", m)
	}
	if m := median([]float64{4, 1, 3, 2}); m != 2.5 {
		t.Errorf("median even = %g", m)
	}
	if got := roundSignificant(3456.7*0.4, 2); got != 1400 {
		t.Errorf("roundSignificant = %g, want 1400", got)
	}
	if got := roundSignificant(5.83, 2); got != 5.8 {
		t.Errorf("roundSignificant = %g, want 5.8", got)
	}
	for c, want := range map[int]int{1: 1, 8: 1, 32: 4, 256: 16, 1000: 16} {
		if got := connections(c); got != want {
			t.Errorf("connections(%d) = %d, want %d", c, got, want)
		}
	}
}
