package deadline_test

import (
	"fmt"
	"time"

	"github.com/sluice-dev/sluice/interceptors/deadline"
)

func ExampleNew() {
	d, err := deadline.New(
		deadline.WithLimits(deadline.Limits{Default: 10 * time.Second, Max: time.Minute, Offset: 100 * time.Millisecond}),
		deadline.WithRules(deadline.Rule{Methods: []string{"library.v1.Library.Watch*"}}), // long-lived streams: no deadline
	)
	if err != nil {
		panic(err)
	}
	// In the chain: d.StreamServerInterceptor(), right before the proxy.
	fmt.Printf("%+v\n", d.For("/library.v1.Library/GetBook"))
	fmt.Printf("%+v\n", d.For("/library.v1.Library/WatchShelf"))
	// Output:
	// {Default:10s Max:1m0s Offset:100ms MaxStreamDuration:0s IdleTimeout:0s}
	// {Default:0s Max:0s Offset:0s MaxStreamDuration:0s IdleTimeout:0s}
}
