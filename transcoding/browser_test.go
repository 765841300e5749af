package transcoding_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/cors"
	"github.com/sluice-dev/sluice/internal/gatewaytest"
)

// eventSourcePage opens an EventSource on the gateway's ExportBooks and
// writes what it saw into the page. With close, it closes the source on
// the documented final events, as the README shows; without, it never
// closes (a page that ignores them).
const eventSourcePage = `<!doctype html><html><body><script>
const close = CLOSE;
let messages = 0, ends = 0, errors = 0, opens = 0;
const out = () => { document.body.textContent = "messages=" + messages + " end=" + ends + " onerror=" + errors + " opens=" + opens; };
const es = new EventSource("URL");
es.onopen = () => { opens++; out(); };
es.onmessage = () => { messages++; out(); };
es.addEventListener("end", () => { ends++; if (close) es.close(); out(); });
es.addEventListener("grpc-error", () => { if (close) es.close(); out(); });
es.onerror = () => { errors++; out(); };
out();
</script></body></html>`

// TestSSEBrowserEventSource runs a real browser's EventSource (headless
// Chromium, which CI installs; the test is skipped where it is missing) against the demo: ExportBooks is called once,
// whether the page closes the source on the end event or ignores it.
func TestSSEBrowserEventSource(t *testing.T) {
	browser := ""
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			browser = p
			break
		}
	}
	if browser == "" || testing.Short() {
		t.Skip("no chromium on PATH")
	}
	const export = "/sluice.demo.library.v1.LibraryService/ExportBooks"
	for _, tt := range []struct {
		name  string
		close bool
		want  string
	}{
		{"page closes on end", true, "messages=2 end=1 onerror=0 opens=1"},
		// The browser reports the end of the response (onerror) and
		// schedules a reconnection a day later.
		{"page ignores end", false, "messages=2 end=1 onerror=1 opens=1"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			gatewaytest.CheckLeaks(t)
			upAddr, lib := startDemo(t)
			logs := &recorder{}
			e := startWrappedREST(t, demoRoutes(t), upAddr, "sluice.demo.library.v1", logs, newClient(), func(h http.Handler) http.Handler {
				c, err := cors.NewHandler(h, cors.Policy{AllowedOrigins: []string{"*"}})
				if err != nil {
					t.Fatal(err)
				}
				return c
			})
			e.logs, e.lib = logs, lib
			html := strings.NewReplacer("CLOSE", map[bool]string{true: "true", false: "false"}[tt.close],
				"URL", e.base+"/v1/shelves/scifi/books:export").Replace(eventSourcePage)
			// The page comes from another origin, as an app's would.
			page := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", "text/html")
				_, _ = w.Write([]byte(html))
			}))
			t.Cleanup(page.Close) // before the leak check newEnv set up
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			// The virtual time budget lets the page run 10 s of timers
			// (a reconnection at the browser's default 3 s would happen).
			// No background networking: the machine's closed network
			// would refuse Chromium's own connections.
			out, err := exec.CommandContext(ctx, browser, "--headless", "--no-sandbox", "--disable-gpu",
				"--disable-dev-shm-usage", "--disable-background-networking", "--disable-component-update",
				"--disable-sync", "--disable-quic", "--no-first-run", "--user-data-dir="+t.TempDir(),
				"--virtual-time-budget=10000", "--dump-dom", page.URL).Output()
			if err != nil {
				t.Fatalf("chromium: %v", err)
			}
			if !strings.Contains(string(out), tt.want) {
				t.Errorf("page says %q, want %q", out, tt.want)
			}
			if n := countCalls(t, e, export); n != 1 {
				t.Errorf("%d ExportBooks calls, want 1", n)
			}
		})
	}
}
