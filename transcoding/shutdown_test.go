package transcoding_test

import (
	"bufio"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/sluice-dev/sluice/interceptors/logging"
	"github.com/sluice-dev/sluice/internal/gatewaytest"
	"github.com/sluice-dev/sluice/server"
	"github.com/sluice-dev/sluice/transcoding"
)

// A REST stream still open when a shutdown's grace ends is not cut off
// mid-stream: it ends with an UNAVAILABLE error as its last line (NDJSON
// and envelope) or event (SSE), as a stream ended for any other reason
// does, so clients know to retry elsewhere.
func TestRESTStreamsEndWithUnavailableAtShutdown(t *testing.T) {
	for _, accept := range []string{"application/json", "application/x-ndjson", "text/event-stream"} {
		t.Run(accept, func(t *testing.T) {
			gatewaytest.CheckLeaks(t)
			upAddr, _ := startDemo(t)
			routes := demoRoutes(t)
			gw := gatewaytest.NewGateway(t, gatewaytest.Route(upAddr, "sluice.demo.library.v1"), logging.StreamServerInterceptor(slog.New(slog.DiscardHandler)))
			rest, err := transcoding.NewREST(func() *transcoding.Routes { return routes }, gw.Dispatcher)
			if err != nil {
				t.Fatal(err)
			}
			gw.Start(t, server.WithHTTPHandler(rest))
			client := newClient()
			client.Timeout = 0
			defer client.CloseIdleConnections()

			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+gw.Addr+"/v1/shelves/classics:watch", nil)
			req.Header.Set("Accept", accept)
			res, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			if res.StatusCode != 200 {
				t.Fatalf("watch: %d", res.StatusCode)
			}
			// The watch is open (headers arrive once it is registered);
			// shut down with a grace it cannot meet.
			go func() {
				sctx, scancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
				defer scancel()
				_ = gw.Gateway.Shutdown(sctx)
			}()
			var last string
			sc := bufio.NewScanner(res.Body)
			for sc.Scan() {
				if line := strings.TrimSpace(sc.Text()); line != "" && !strings.HasPrefix(line, ":") {
					last = line
				}
			}
			if err := sc.Err(); err != nil {
				t.Fatalf("stream cut: %v (last line %q)", err, last)
			}
			last = strings.TrimPrefix(last, "data: ")
			var body struct {
				Code  int
				Error struct{ Code int }
			}
			_ = json.Unmarshal([]byte(last), &body)
			if body.Code != int(codes.Unavailable) && body.Error.Code != int(codes.Unavailable) {
				t.Fatalf("last line %q, want an UNAVAILABLE status", last)
			}
		})
	}
}
