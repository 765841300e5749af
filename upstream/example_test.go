package upstream_test

import (
	"fmt"

	"github.com/sluice-dev/sluice/upstream"
)

// A pool with one upstream serving the library API, whose reads are
// retried when a replica is unavailable. Connections are made on first
// use (or Connect): building the pool resolves and dials nothing.
func ExampleNewPool() {
	pool, err := upstream.NewPool([]upstream.Spec{{
		Name:    "library",
		Target:  "dns:///library.internal:50051",
		Methods: []string{"library.v1"},
		Retry:   &upstream.RetryPolicy{Methods: []string{"library.v1.LibraryService.GetBook"}},
	}}, upstream.WithMaxRecvMsgSize(8<<20))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer pool.Close()
	_, name, ok := pool.Lookup("/library.v1.LibraryService/GetBook")
	fmt.Println(name, ok, pool.Retries(name, "/library.v1.LibraryService/GetBook"))
	// Output: library true true
}
