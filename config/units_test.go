package config_test

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/config"
	"gopkg.in/yaml.v3"
)

func TestParseByteSize(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    config.ByteSize
		wantErr string
	}{
		{in: "0", want: 0},
		{in: "1048576", want: 1 << 20},
		{in: "4MiB", want: 4 << 20},
		{in: "512KiB", want: 512 << 10},
		{in: "512 KiB", want: 512 << 10},
		{in: " 2GiB ", want: 2 << 30},
		{in: "1TiB", want: 1 << 40},
		{in: "1GB", want: 1e9},
		{in: "3MB", want: 3e6},
		{in: "2KB", want: 2000},
		{in: "7B", want: 7},
		{in: "1TB", want: 1e12},
		{in: "9223372036854775807", want: math.MaxInt64},
		{in: "", wantErr: "must be a size"},
		{in: "MiB", wantErr: "must be a size"},
		{in: "-1", wantErr: "must be a size"},
		{in: "+1", wantErr: "must be a size"},
		{in: "1.5MiB", wantErr: "must be a size"},
		{in: "4mib", wantErr: "must be a size"},
		{in: "4Mb", wantErr: "must be a size"},
		{in: "0x10", wantErr: "must be a size"},
		{in: "4 MiB B", wantErr: "must be a size"},
		{in: "9223372036854775808", wantErr: "too large"},
		{in: "8388608TiB", wantErr: "too large"},
		{in: "99999999999999999999KiB", wantErr: "too large"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			got, err := config.ParseByteSize(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("ParseByteSize(%q) = %d, %v; want error containing %q", tt.in, got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("ParseByteSize(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestByteSizeString(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   config.ByteSize
		want string
	}{
		{0, "0"},
		{1, "1"},
		{1023, "1023"},
		{1024, "1KiB"},
		{1000, "1KB"},
		{4 << 20, "4MiB"},
		{1e9, "1GB"},
		{3 << 40, "3TiB"},
		{1<<20 + 1, "1048577"},
		{-5, "-5"},
	}
	for _, tt := range tests {
		if got := tt.in.String(); got != tt.want {
			t.Errorf("ByteSize(%d).String() = %q, want %q", int64(tt.in), got, tt.want)
		}
		if tt.in < 0 {
			continue
		}
		// String and ParseByteSize are inverses.
		back, err := config.ParseByteSize(tt.in.String())
		if err != nil || back != tt.in {
			t.Errorf("ParseByteSize(%q) = %d, %v; want %d", tt.in.String(), back, err, tt.in)
		}
	}
}

func TestDuration(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    time.Duration
		str     string
		wantErr bool
	}{
		{in: "0", want: 0, str: "0s"},
		{in: "30s", want: 30 * time.Second, str: "30s"},
		{in: "1m30s", want: 90 * time.Second, str: "1m30s"},
		{in: "2h", want: 2 * time.Hour, str: "2h"},
		{in: "10m", want: 10 * time.Minute, str: "10m"},
		{in: "1h0m30s", want: time.Hour + 30*time.Second, str: "1h0m30s"},
		{in: "250ms", want: 250 * time.Millisecond, str: "250ms"},
		{in: "-1s", want: -time.Second, str: "-1s"},
		{in: "30", wantErr: true},
		{in: "1d", wantErr: true},
		{in: "", wantErr: true},
		{in: "[1s]", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			var d config.Duration
			err := yaml.Unmarshal([]byte("'"+tt.in+"'"), &d)
			if tt.in == "[1s]" {
				err = yaml.Unmarshal([]byte(tt.in), &d)
			}
			if tt.wantErr {
				if err == nil {
					t.Errorf("unmarshal %q = %v, want an error", tt.in, time.Duration(d))
				}
				return
			}
			if err != nil || time.Duration(d) != tt.want {
				t.Fatalf("unmarshal %q = %v, %v; want %v", tt.in, time.Duration(d), err, tt.want)
			}
			if got := d.String(); got != tt.str {
				t.Errorf("String() = %q, want %q", got, tt.str)
			}
		})
	}
}

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	cfg, err := config.Parse([]byte(config.ExampleYAML), "example.yaml")
	if err != nil {
		t.Fatalf("Parse(ExampleYAML): %v", err)
	}
	for name, c := range map[string]*config.Config{"default": ptr(config.Default()), "example": cfg} {
		out, err := yaml.Marshal(c)
		if err != nil {
			t.Fatalf("%s: Marshal: %v", name, err)
		}
		back, err := config.Parse(out, name)
		if err != nil {
			t.Fatalf("%s: Parse(Marshal(c)): %v\n%s", name, err, out)
		}
		if !equalYAML(t, back, c) {
			t.Errorf("%s: round trip changed the config:\n%s", name, out)
		}
	}
}

func ptr[T any](v T) *T { return &v }

// equalYAML compares configs by their YAML, which treats nil and empty
// lists alike, as the format does.
func equalYAML(t *testing.T, a, b *config.Config) bool {
	t.Helper()
	x, err1 := yaml.Marshal(a)
	y, err2 := yaml.Marshal(b)
	if err1 != nil || err2 != nil {
		t.Fatalf("Marshal: %v, %v", err1, err2)
	}
	return string(x) == string(y)
}
