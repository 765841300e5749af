// Package browser_test runs a real browser (headless Chromium, driven with
// chromedp) against a real sluice serving the embedded demo: a page from
// another origin calls it with third-party clients from npm (connect-web's
// gRPC-Web and Connect transports, Google's grpc-web in both formats,
// fetch with a preflight, EventSource, a WebSocket bidi call), and the API explorer on the admin
// port executes a call. The page's JavaScript (page/) is bundled with the
// pinned esbuild when the test runs; `npm ci` in this directory (make
// browser-deps) installs it and the clients.
//
// The test is skipped where Chromium or node_modules are missing; CI has
// both. With -update it writes the explorer's screenshot to
// docs/img/explorer.png, which the README shows; every run saves it under
// $SLUICE_ARTIFACTS when that is set.
package browser_test

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/sluice-dev/sluice/internal/gatewaytest"
)

var update = flag.Bool("update", false, "write the explorer's screenshot to docs/img/explorer.png")

// sluice is a running `sluice serve` of the embedded demo.
type sluice struct {
	gateway, admin string // base URLs
	token          string // a demo token with the write scope
}

// startSluice builds the binary and serves the demo on loopback ports
// the kernel picks, until the test ends.
func startSluice(t *testing.T) sluice {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "sluice")
	build := exec.Command("go", "build", "-o", bin, "../../cmd/sluice")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build sluice: %v\n%s", err, out)
	}
	token, err := exec.Command(bin, "token").Output()
	if err != nil {
		t.Fatalf("sluice token: %v", err)
	}
	cmd := exec.Command(bin, "serve", "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var log strings.Builder
	addrs := make(chan [2]string, 1)
	go func() {
		var gw, admin string
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			mu.Lock()
			log.WriteString(sc.Text() + "\n")
			mu.Unlock()
			var line struct{ Msg, Addr string }
			if json.Unmarshal(sc.Bytes(), &line) != nil {
				continue
			}
			switch line.Msg {
			case "gateway listening":
				gw = line.Addr
			case "admin listening":
				admin = line.Addr
			}
			if gw != "" && admin != "" {
				addrs <- [2]string{gw, admin}
				gw = "" // once
			}
		}
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			mu.Lock()
			t.Logf("sluice log:\n%s", log.String())
			mu.Unlock()
		}
	})
	select {
	case a := <-addrs:
		return sluice{gateway: "http://" + a[0], admin: "http://" + a[1], token: strings.TrimSpace(string(token))}
	case <-time.After(60 * time.Second):
		t.Fatal("sluice did not start listening within 60s")
	}
	return sluice{}
}

// servePage bundles page/main.js with esbuild and serves the page, its
// bundle and the demo's descriptor set from an origin of its own.
func servePage(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	esbuild := exec.Command("node_modules/.bin/esbuild", "page/main.js", "--bundle", "--format=esm",
		"--target=es2022", "--log-level=warning", "--outfile="+filepath.Join(dir, "bundle.js"))
	if out, err := esbuild.CombinedOutput(); err != nil {
		t.Fatalf("esbuild: %v\n%s", err, out)
	}
	for src, dst := range map[string]string{"page/index.html": "index.html", "../../gen/descriptors/demo.binpb": "demo.binpb"} {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, dst), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	srv := httptest.NewServer(http.FileServer(http.Dir(dir)))
	t.Cleanup(srv.Close)
	return srv.URL
}

// startBrowser starts one headless Chromium for the whole test; each
// subtest opens a tab of its own with chromedp.NewContext.
func startBrowser(t *testing.T) context.Context {
	t.Helper()
	path := ""
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			path = p
			break
		}
	}
	if path == "" || testing.Short() {
		t.Skip("no chromium on PATH, or -short")
	}
	if _, err := os.Stat("node_modules/.bin/esbuild"); err != nil {
		t.Skip("no node_modules: run `npm ci` in e2e/browser (make browser-deps)")
	}
	// No background networking: the machine's closed network would refuse
	// Chromium's own connections.
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox,
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 1000),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil { // starts the browser
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// tab opens a new tab of the browser, closed when the test ends; every
// action in it must end within two minutes (an upper bound for failure
// only: the page takes a second or two).
func tab(t *testing.T, browser context.Context) context.Context {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser)
	ctx, cancelTimeout := context.WithTimeout(ctx, 2*time.Minute)
	t.Cleanup(func() { cancelTimeout(); cancel() })
	return ctx
}

func TestBrowser(t *testing.T) {
	gatewaytest.CheckLeaks(t) // the browser, its tabs and the servers are all stopped
	browser := startBrowser(t)
	s := startSluice(t)
	page := servePage(t)

	t.Run("clients", func(t *testing.T) {
		t.Parallel()
		ctx := tab(t, browser)
		url := page + "/index.html?gw=" + s.gateway + "&token=" + s.token
		if err := chromedp.Do(ctx,
			chromedp.Navigate(url),
			chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
				_, err := chromedp.Poll[bool](`window.done === true`, chromedp.WithPollingTimeout(0))(ctx, t)
				return err
			}),
		); err != nil {
			t.Fatalf("page: %v", err)
		}
		results, err := chromedp.Run(ctx, chromedp.Evaluate[map[string]struct {
			OK    bool            `json:"ok"`
			Value json.RawMessage `json:"value"`
			Error string          `json:"error"`
		}](`window.results`))
		if err != nil {
			t.Fatalf("read the results: %v", err)
		}
		if r, ok := results["setup"]; ok {
			t.Fatalf("the page could not start: %s", r.Error)
		}
		for _, tt := range []struct {
			name string
			want string // the result's JSON
		}{
			{name: "connect-web grpc-web", want: `{"shelf":"shelves/scifi","exported":2,"created":"From a page","refused":"Unauthenticated"}`},
			{name: "connect-web connect", want: `{"shelf":"shelves/scifi","exported":2,"created":"From a page","refused":"Unauthenticated"}`},
			{name: "grpc-web text", want: `{"shelf":"shelves/classics","created":"grpc-web text","exported":2}`},
			{name: "grpc-web binary", want: `{"shelf":"shelves/classics","created":"grpc-web binary"}`},
			{name: "fetch with preflight", want: `{"status":200,"created":"From fetch","requestId":true}`},
			{name: "EventSource", want: `{"messages":2}`},
			{name: "WebSocket bidi", want: `{"answers":"1,2","speaker":"librarian","status":0,"close":1000,"subprotocol":"sluice.json"}`},
		} {
			t.Run(tt.name, func(t *testing.T) {
				r, ok := results[tt.name]
				switch {
				case !ok:
					t.Fatal("the page did not run it")
				case !r.OK:
					t.Fatalf("failed in the browser: %s", r.Error)
				}
				if !matchJSON(t, r.Value, tt.want) {
					t.Errorf("got %s, want %s", r.Value, tt.want)
				}
			})
		}
	})

	t.Run("explorer", func(t *testing.T) {
		t.Parallel()
		saveScreenshot(t, explorerCall(t, tab(t, browser), s.admin, s.token))
	})
}

// explorerCall opens the API explorer and, as the README's tour does,
// authorizes with a demo token and executes CreateShelf from it (expand
// the operation, "Try it out", write the body, "Execute"). It returns a
// screenshot of the operation with its response.
func explorerCall(t *testing.T, ctx context.Context, admin, token string) []byte {
	t.Helper()
	const op = "#operations-LibraryService-LibraryService_CreateShelf"
	const row = op + " .live-responses-table tr.response"
	// The body editor is a React textarea: set its value the way React
	// sees a user's input.
	const body = `{"shelf": {"displayName": "From the explorer"}}`
	setBody := `(() => {
		const ta = document.querySelector(` + "`" + op + ` textarea.body-param__text` + "`" + `);
		Object.getOwnPropertyDescriptor(HTMLTextAreaElement.prototype, "value").set.call(ta, ` + "`" + body + "`" + `);
		ta.dispatchEvent(new Event("input", { bubbles: true }));
		return true;
	})()`
	if err := chromedp.Do(ctx,
		chromedp.Navigate(admin+"/docs"),
		chromedp.WaitVisible(chromedp.CSS(".auth-wrapper .authorize")),
		chromedp.Click(chromedp.CSS(".auth-wrapper .authorize")),
		chromedp.WaitVisible(chromedp.CSS(".modal-ux .auth-container input")),
		chromedp.SendKeys(chromedp.CSS(".modal-ux .auth-container input"), token),
		chromedp.Click(chromedp.CSS(".modal-ux .auth-btn-wrapper .authorize")),
		chromedp.WaitVisible(chromedp.CSS(".modal-ux .auth-btn-wrapper .btn-done")),
		chromedp.Click(chromedp.CSS(".modal-ux .auth-btn-wrapper .btn-done")),
		chromedp.WaitNotPresent(chromedp.CSS(".modal-ux")),
		chromedp.Click(chromedp.CSS(op+" .opblock-summary-control")),
		chromedp.WaitVisible(chromedp.CSS(op+" .try-out__btn")),
		chromedp.Click(chromedp.CSS(op+" .try-out__btn")),
		chromedp.WaitVisible(chromedp.CSS(op+" textarea.body-param__text")),
		chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
			_, err := chromedp.Evaluate[bool](setBody)(ctx, t)
			return err
		}),
		chromedp.Click(chromedp.CSS(op+" .execute")),
		chromedp.WaitVisible(chromedp.CSS(row+" .response-col_status")),
	); err != nil {
		t.Fatalf("explorer: %v", err)
	}
	status, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(row+" .response-col_status")))
	if err != nil {
		t.Fatal(err)
	}
	answer, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(row+" .response-col_description")))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(strings.TrimSpace(status), "200") || !strings.Contains(answer, `"From the explorer"`) {
		t.Errorf("the explorer's call answered %q: %s", status, answer)
	}
	png, err := chromedp.Run(ctx, chromedp.Screenshot(chromedp.CSS(op)))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	return png
}

// saveScreenshot keeps the explorer's screenshot: under $SLUICE_ARTIFACTS
// when set, and as the README's docs/img/explorer.png with -update.
func saveScreenshot(t *testing.T, png []byte) {
	t.Helper()
	var paths []string
	if dir := os.Getenv("SLUICE_ARTIFACTS"); dir != "" {
		paths = append(paths, filepath.Join(dir, "explorer.png"))
	}
	if *update {
		paths = append(paths, "../../docs/img/explorer.png")
	}
	for _, p := range paths {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot written to %s", p)
	}
}

// matchJSON reports whether got has want's shape: the same keys and
// values, where the string "*" in want matches any value.
func matchJSON(t *testing.T, got json.RawMessage, want string) bool {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("result %s: %v", got, err)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("want %s: %v", want, err)
	}
	return match(g, w)
}

func match(got, want any) bool {
	if want == "*" {
		return true
	}
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok || len(g) != len(w) {
			return false
		}
		for k, v := range w {
			if !match(g[k], v) {
				return false
			}
		}
		return true
	default:
		return got == want
	}
}
