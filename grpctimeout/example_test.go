package grpctimeout_test

import (
	"fmt"

	"github.com/sluice-dev/sluice/grpctimeout"
)

func ExampleParse() {
	for _, s := range []string{"250m", "30S", "-5S", "999999999H"} {
		d, err := grpctimeout.Parse(s)
		fmt.Println(d, err)
	}
	// Output:
	// 250ms <nil>
	// 30s <nil>
	// 0s timeout "-5S": want only digits before the unit
	// 0s timeout "999999999H": more than 8 digits
}
