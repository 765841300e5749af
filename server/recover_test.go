package server_test

import (
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/sluice-dev/sluice/internal/gatewaytest"
	"github.com/sluice-dev/sluice/server"
)

// A panic in an HTTP handler answers that request with 500 INTERNAL and a
// google.rpc.Status body, and the gateway goes on serving; net/http alone
// would drop the connection without an answer.
func TestHTTPHandlerPanicIsInternal(t *testing.T) {
	gatewaytest.CheckLeaks(t)
	gw := gatewaytest.NewGateway(t, nil)
	gw.Start(t, server.WithHTTPHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/panic" {
			panic("a bug")
		}
	})))
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	res, err := client.Get("http://" + gw.Addr + "/panic")
	if err != nil {
		t.Fatalf("panicking handler: %v, want an answer", err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	var st struct{ Code int }
	_ = json.Unmarshal(body, &st)
	if res.StatusCode != http.StatusInternalServerError || codes.Code(st.Code) != codes.Internal {
		t.Errorf("panicking handler: %d %s, want 500 INTERNAL", res.StatusCode, body)
	}
	res, err = client.Get("http://" + gw.Addr + "/fine")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Errorf("after the panic: %d", res.StatusCode)
	}
}
