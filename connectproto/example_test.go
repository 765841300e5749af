package connectproto_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"

	"google.golang.org/grpc"

	"github.com/sluice-dev/sluice/connectproto"
	"github.com/sluice-dev/sluice/frame"
	"github.com/sluice-dev/sluice/registry"
)

// echoDispatcher stands in for the gateway's chain and proxy: it answers
// every call with its request.
type echoDispatcher struct{}

func (echoDispatcher) Dispatch(ss grpc.ServerStream, _ string, _, _ bool) error {
	var f frame.Frame
	if err := ss.RecvMsg(&f); err != nil {
		return err
	}
	return ss.SendMsg(&f)
}

func ExampleNewHandler() {
	snap, err := echoContract() // a contract whose Echo service exchanges google.protobuf.StringValue
	if err != nil {
		panic(err)
	}
	rest := http.NotFoundHandler() // what serves everything that is not Connect
	h, err := connectproto.NewHandler(echoDispatcher{}, func() *registry.Snapshot { return snap }, rest)
	if err != nil {
		panic(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()

	resp, err := http.Post(srv.URL+"/sluice.test.connect.v1.Echo/Unary", "application/json", strings.NewReader(`"hello"`))
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(resp.StatusCode, resp.Header.Get("Content-Type"), string(body))
	// Output: 200 application/json "hello"
}
