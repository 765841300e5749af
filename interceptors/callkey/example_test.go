package callkey_test

import (
	"fmt"

	"golang.org/x/time/rate"

	"github.com/sluice-dev/sluice/interceptors/callkey"
)

func ExampleNewMap() {
	// One message rate per caller, alive while the caller has calls open.
	rates := callkey.NewMap(func() *rate.Limiter { return rate.NewLimiter(10, 1) })

	first := rates.Acquire("alice")
	second := rates.Acquire("alice") // a second call of the same caller shares the limiter
	fmt.Println(first.Value == second.Value, rates.Len())

	rates.Release(first)
	rates.Release(second) // the last call ended: the key is gone
	fmt.Println(rates.Len())
	// Output:
	// true 1
	// 0
}
