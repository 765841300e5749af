package protosource

import "testing"

// A burst of changes is reported once, by its first path, at the first
// quiet poll; changes that never stop are reported every maxBurst polls.
func TestBurstCoalesces(t *testing.T) {
	t.Parallel()
	var b burst
	if p := b.poll(""); p != "" {
		t.Fatalf("quiet poll reported %q", p)
	}
	for i, c := range []string{"a.proto", "b.proto", "a.proto"} {
		if p := b.poll(c); p != "" {
			t.Fatalf("change %d reported %q during the burst", i, p)
		}
	}
	if p := b.poll(""); p != "a.proto" {
		t.Fatalf("quiet poll after the burst reported %q, want a.proto", p)
	}
	if p := b.poll(""); p != "" {
		t.Fatalf("second quiet poll reported %q", p)
	}
	reports := 0
	for i := 0; i < 3*maxBurst; i++ {
		if b.poll("c.proto") != "" {
			reports++
		}
	}
	if reports != 3 {
		t.Errorf("%d reports over %d polls of endless changes, want 3", reports, 3*maxBurst)
	}
}

// BenchmarkPollGoogleAPIs is one watch poll (a stat of every file) over
// Google's published APIs (`make corpora`), as the root of a source.
func BenchmarkPollGoogleAPIs(b *testing.B) {
	const root = "../../scripts/googleapis/node_modules/google-proto-files"
	s, err := New([]string{root})
	if err != nil {
		b.Fatal(err)
	}
	if len(s.state()) == 0 {
		b.Skipf("%s absent: run `make corpora`", root)
	}
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		n = len(s.state())
	}
	b.ReportMetric(float64(n), "files")
}
