package config

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Duration is a time.Duration written the way Go writes it: "30s", "1m30s",
// "2h", "250ms". A bare number is rejected, except 0, because a missing unit
// is almost always a mistake. Validate rejects negative values.
type Duration time.Duration

// String formats d like time.Duration but without trailing zero units:
// "2h" rather than "2h0m0s".
func (d Duration) String() string {
	s := time.Duration(d).String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

// UnmarshalYAML reads a duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("must be a duration like \"30s\", got a %s", kindName(n))
	}
	v, err := time.ParseDuration(strings.TrimSpace(n.Value))
	if err != nil {
		return fmt.Errorf("must be a duration like \"30s\" or \"1m30s\", got %q", n.Value)
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML writes d as its String form, so that marshalled configs parse
// back to the same value.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

// ByteSize is a size in bytes, written as a plain integer ("1048576") or an
// integer with a unit: B, KB, MB, GB, TB (powers of 1000) or KiB, MiB, GiB,
// TiB (powers of 1024), with an optional space: "4MiB", "512 KiB", "1GB".
// Negative sizes and sizes that overflow int64 are rejected.
type ByteSize int64

var byteUnits = []struct {
	name string
	size int64
}{
	// Binary units first: String prefers them.
	{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10},
	{"TB", 1e12}, {"GB", 1e9}, {"MB", 1e6}, {"KB", 1e3},
	{"B", 1},
}

// ParseByteSize parses s as described on ByteSize. Flags in cmd/ use it so
// that sizes are written the same way everywhere.
func ParseByteSize(s string) (ByteSize, error) {
	t := strings.TrimSpace(s)
	digits := t
	mult := int64(1)
	for _, u := range byteUnits {
		if strings.HasSuffix(t, u.name) {
			digits = strings.TrimSpace(strings.TrimSuffix(t, u.name))
			mult = u.size
			break
		}
	}
	if digits == "" || digits[0] < '0' || digits[0] > '9' {
		return 0, fmt.Errorf("must be a size like \"4MiB\", \"512KiB\", \"1GB\" or a number of bytes, got %q", s)
	}
	n, err := strconv.ParseInt(digits, 10, 64)
	if err != nil {
		if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
			return 0, fmt.Errorf("size %q is too large", s)
		}
		return 0, fmt.Errorf("must be a size like \"4MiB\", \"512KiB\", \"1GB\" or a number of bytes, got %q", s)
	}
	if n > math.MaxInt64/mult {
		return 0, fmt.Errorf("size %q is too large", s)
	}
	return ByteSize(n * mult), nil
}

// String formats b with the largest unit that divides it exactly, binary
// units first: 4194304 is "4MiB", 1000000000 is "1GB", 1000 is "1KB" and
// 1023 is "1023".
func (b ByteSize) String() string {
	if b <= 0 {
		return strconv.FormatInt(int64(b), 10)
	}
	for _, u := range byteUnits[:len(byteUnits)-1] {
		if int64(b)%u.size == 0 {
			return strconv.FormatInt(int64(b)/u.size, 10) + u.name
		}
	}
	return strconv.FormatInt(int64(b), 10)
}

// UnmarshalYAML reads a size as described on ByteSize.
func (b *ByteSize) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("must be a size like \"4MiB\", got a %s", kindName(n))
	}
	v, err := ParseByteSize(n.Value)
	if err != nil {
		return err
	}
	*b = v
	return nil
}

// MarshalYAML writes b as its String form, or as a plain integer when it
// has no unit.
func (b ByteSize) MarshalYAML() (any, error) {
	s := b.String()
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n, nil
	}
	return s, nil
}
