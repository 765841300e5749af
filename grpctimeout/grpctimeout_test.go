package grpctimeout_test

import (
	"math"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/grpctimeout"
)

func TestParse(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"1H", time.Hour, true},
		{"2M", 2 * time.Minute, true},
		{"30S", 30 * time.Second, true},
		{"250m", 250 * time.Millisecond, true},
		{"7u", 7 * time.Microsecond, true},
		{"99999999n", 99999999, true},
		{"0S", 0, true},
		{"00000001S", time.Second, true},
		{"2562047H", 2562047 * time.Hour, true},
		{"2562048H", math.MaxInt64, true},
		{"99999999H", math.MaxInt64, true},
		{"999999999S", 0, false},
		{"-5S", 0, false},
		{"1x", 0, false},
		{"1s", 0, false},
		{"1h", 0, false},
		{"S", 0, false},
		{"", 0, false},
		{"1.5S", 0, false},
		{"1 S", 0, false},
		{"0x10S", 0, false},
		{"１S", 0, false},
	} {
		t.Run(c.in, func(t *testing.T) {
			t.Parallel()
			got, err := grpctimeout.Parse(c.in)
			if (err == nil) != c.ok || got != c.want {
				t.Fatalf("ParseTimeout(%q) = %v, %v; want %v, ok=%v", c.in, got, err, c.want, c.ok)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"1H", "30S", "250m", "-5S", "999999999H", "99999999H", "1x", "", "0n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := grpctimeout.Parse(s)
		if err != nil {
			if d != 0 {
				t.Fatalf("error with a duration: %v", d)
			}
			return
		}
		if d < 0 {
			t.Fatalf("negative duration %v for %q", d, s)
		}
		if len(s) < 2 || len(s) > 9 {
			t.Fatalf("accepted %q of length %d", s, len(s))
		}
	})
}
