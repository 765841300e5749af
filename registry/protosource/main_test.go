package protosource_test

import (
	"testing"

	"go.uber.org/goleak"
)

// Compilations and Watch start goroutines; none may outlive them.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
