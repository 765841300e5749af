package config_test

import (
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/config"
)

var update = flag.Bool("update", false, "rewrite docs/configuration.md from config.Reference")

// TestReference keeps docs/configuration.md equal to Reference(); run
// "go test ./config -run TestReference -update" after changing the schema.
func TestReference(t *testing.T) {
	golden := filepath.Join("..", "docs", "configuration.md")
	got := config.Reference()
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run: go test ./config -run TestReference -update)", err)
	}
	if got != string(want) {
		t.Errorf("%s is out of date; run: go test ./config -run TestReference -update", golden)
	}
}

// TestReferenceCoversEveryKey checks that every key of the schema is
// documented and appears in the reference.
func TestReferenceCoversEveryKey(t *testing.T) {
	t.Parallel()
	ref := config.Reference()
	var walk func(prefix string, typ reflect.Type)
	walk = func(prefix string, typ reflect.Type) {
		for i := range typ.NumField() {
			f := typ.Field(i)
			name := f.Tag.Get("yaml")
			if name == "" {
				t.Errorf("%s.%s has no yaml tag", typ.Name(), f.Name)
				continue
			}
			key := name
			if prefix != "" {
				key = prefix + "." + name
			}
			if strings.TrimSpace(f.Tag.Get("doc")) == "" {
				t.Errorf("key %s has no doc tag", key)
			}
			switch {
			case f.Type.Kind() == reflect.Struct:
				if prefix == "" {
					if !strings.Contains(ref, "### `"+key+"`") {
						t.Errorf("reference has no section for %s", key)
					}
				} else if !strings.Contains(ref, "| `"+key+"` |") {
					t.Errorf("reference has no row for %s", key)
				}
				walk(key, f.Type)
			case f.Type.Kind() == reflect.Slice && f.Type.Elem().Kind() == reflect.Struct:
				walk(key+"[]", f.Type.Elem())
			default:
				if !strings.Contains(ref, "| `"+key+"` |") {
					t.Errorf("reference has no row for %s", key)
				}
			}
		}
	}
	walk("", reflect.TypeFor[config.Config]())
	for _, want := range []string{"`round_robin` \\| `pick_first`", "| `server.max_recv_msg_size` | size | `4MiB` |", "| `tls.cert_file` | path | `\"\"` |", "| `descriptor_sets` | list of paths | `[]` |"} {
		if !strings.Contains(ref, want) {
			t.Errorf("reference lacks %q", want)
		}
	}
	for line := range strings.Lines(ref) {
		if strings.HasPrefix(line, "|") && strings.ContainsAny(line, "{}") {
			t.Errorf("reference row has an unconverted {code} marker: %s", line)
		}
	}
}
