package gatewaytest

import (
	"testing"

	"go.uber.org/goleak"
)

// CheckLeaks makes the test fail if it leaves a goroutine behind. Cleanups
// run last registered first, so call it before anything else registers
// one: the check then runs after every server, gateway and client of the
// test has been stopped.
func CheckLeaks(t *testing.T) {
	t.Helper()
	t.Cleanup(func() { goleak.VerifyNone(t) })
}
