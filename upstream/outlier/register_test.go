package outlier_test

import (
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/upstream"
	"github.com/sluice-dev/sluice/upstream/outlier"
)

// TestRegister: importing the package registers nothing (no init side
// effect); a pool refuses outlier detection until Register is called,
// and accepts it after. Not parallel: Register writes grpc-go's registry,
// which nothing may read meanwhile.
func TestRegister(t *testing.T) {
	spec := upstream.Spec{Target: "127.0.0.1:1", Methods: []string{"a"}, OutlierDetection: &outlier.Config{}}
	if outlier.Registered() {
		t.Fatal("the policy is registered before Register: something registers it at import")
	}
	if p, err := upstream.NewPool([]upstream.Spec{spec}); err == nil {
		_ = p.Close()
		t.Fatal("NewPool accepted outlier detection before Register")
	} else if !strings.Contains(err.Error(), "outlier.Register") {
		t.Fatalf("NewPool: %v; want an error that says to call outlier.Register", err)
	}
	outlier.Register()
	if !outlier.Registered() {
		t.Fatal("not registered after Register")
	}
	p, err := upstream.NewPool([]upstream.Spec{spec})
	if err != nil {
		t.Fatalf("NewPool after Register: %v", err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
}
