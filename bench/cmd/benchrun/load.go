package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// load is one run of a load generator: closed-loop at a fixed concurrency
// (rate 0), or at a fixed request rate with enough workers to hold it.
type load struct {
	concurrency int
	rate        float64
	duration    time.Duration
}

// result is what one load-generator run measured.
type result struct {
	ok        int             // successful calls (gRPC OK, HTTP 2xx)
	errors    int             // everything else, including transport errors
	elapsed   time.Duration   // the load generator's own measurement window
	latencies []time.Duration // of the successful calls
	errSample string          // one error, to show what went wrong
}

// connections spreads streams over HTTP/2 connections the same way for
// every multiplexing client (ghz and h2load in h2c mode): 8 streams per
// connection, at most 16 connections. HTTP/1.1 clients use one connection
// per request in flight.
func connections(concurrency int) int {
	return min(max(concurrency/8, 1), 16)
}

// rateWorkers is how many workers a fixed-rate load keeps: enough to hold
// the rate while a few calls are slow.
const rateWorkers = 8

// tools locates the load generators.
type tools struct {
	ghzBin, h2loadBin, protoset string
	tmp                         string
}

// ghz runs one gRPC load against addr.
func (t tools) ghz(ctx context.Context, addr string, w *workload, l load) (result, error) {
	out := filepath.Join(t.tmp, "ghz.json")
	conc := l.concurrency
	// Unary calls still in flight when the window closes are left out of
	// the count, so a window's end never shows up as errors; a stream lasts
	// about a second, so streams are waited for, or a short window would
	// count none.
	stop := "ignore"
	if w.unit == "stream" {
		stop = "wait"
	}
	args := []string{t.ghzBin, "--insecure", "--protoset", t.protoset, "--call", w.grpcCall,
		"--data-file", w.grpcDataFile, "-z", l.duration.String(), "--duration-stop", stop,
		"--timeout", "20s", "-O", "json", "-o", out}
	if l.rate > 0 {
		conc = rateWorkers
		args = append(args, "--rps", strconv.Itoa(int(l.rate+0.5)))
	}
	args = append(args, "-c", strconv.Itoa(conc), "--connections", strconv.Itoa(connections(conc)), addr)
	if _, err := runTool(ctx, l.duration+90*time.Second, args); err != nil {
		return result{}, err
	}
	b, err := os.ReadFile(out)
	if err != nil {
		return result{}, err
	}
	return parseGHZ(b)
}

// ghzReport is the part of ghz's JSON report the harness reads.
type ghzReport struct {
	Count             int            `json:"count"`
	Total             time.Duration  `json:"total"`
	ErrorDistribution map[string]int `json:"errorDistribution"`
	Details           []struct {
		Latency time.Duration `json:"latency"`
		Error   string        `json:"error"`
		Status  string        `json:"status"`
	} `json:"details"`
}

func parseGHZ(b []byte) (result, error) {
	var rep ghzReport
	if err := json.Unmarshal(b, &rep); err != nil {
		return result{}, fmt.Errorf("parse ghz report: %w", err)
	}
	r := result{elapsed: rep.Total}
	for _, d := range rep.Details {
		if d.Status == "OK" && d.Error == "" {
			r.ok++
			r.latencies = append(r.latencies, d.Latency)
			continue
		}
		r.errors++
		if r.errSample == "" {
			r.errSample = d.Status + ": " + d.Error
		}
	}
	if len(rep.Details) == 0 && rep.Count > 0 {
		return result{}, fmt.Errorf("ghz report has %d calls but no details", rep.Count)
	}
	return r, nil
}

// grpcWeb runs one gRPC-Web load with h2load: w's method with its framed
// proto request. h2load counts any 200 as success, and gRPC-Web reports a
// failed call in a 200 too, so one call is checked first: its trailer frame
// must say grpc-status 0.
func (t tools) grpcWeb(ctx context.Context, base string, h1 bool, w *workload, l load) (result, error) {
	if err := checkGRPCWeb(ctx, base, h1, w); err != nil {
		return result{}, err
	}
	web := *w
	web.restMethod, web.restPath, web.restBodyFile = "POST", w.webPath(), w.webBodyFile
	return t.h2loadAs(ctx, base, h1, &web, l, "application/grpc-web+proto")
}

// checkGRPCWeb makes one gRPC-Web call of w and fails unless it ends OK.
func checkGRPCWeb(ctx context.Context, base string, h1 bool, w *workload) error {
	body, err := os.ReadFile(w.webBodyFile)
	if err != nil {
		return err
	}
	tr := &http.Transport{}
	if !h1 {
		var p http.Protocols
		p.SetUnencryptedHTTP2(true)
		tr.Protocols = &p
	}
	defer tr.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+w.webPath(), bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/grpc-web+proto")
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return fmt.Errorf("grpc-web check: %w", err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("grpc-web check: %w", err)
	}
	if st := resp.Header.Get("Grpc-Status"); st != "" {
		return fmt.Errorf("grpc-web check: grpc-status %s: %s", st, resp.Header.Get("Grpc-Message"))
	}
	if !bytes.Contains(out, []byte("grpc-status: 0\r\n")) {
		return fmt.Errorf("grpc-web check: no OK status in the response's trailer frame: %s", tail(out, 200))
	}
	return nil
}

// h2load runs one REST load against base (http://host:port) over HTTP/1.1
// or cleartext HTTP/2 (prior knowledge).
func (t tools) h2load(ctx context.Context, base string, h1 bool, w *workload, l load) (result, error) {
	return t.h2loadAs(ctx, base, h1, w, l, "application/json")
}

// connect runs one load of the workload's Connect unary call (a POST of
// the proto-encoded request) over cleartext HTTP/2.
func (t tools) connect(ctx context.Context, base string, w *workload, l load) (result, error) {
	c := *w
	c.restMethod, c.restPath, c.restBodyFile = "POST", w.connectPath, w.connectBodyFile
	return t.h2loadAs(ctx, base, false, &c, l, "application/proto", "connect-protocol-version: 1")
}

// h2loadAs is h2load with the request body's content type and extra
// request headers ("name: value").
func (t tools) h2loadAs(ctx context.Context, base string, h1 bool, w *workload, l load, contentType string, headers ...string) (result, error) {
	logFile := filepath.Join(t.tmp, "h2load.log")
	_ = os.Remove(logFile)
	conc := l.concurrency
	if l.rate > 0 {
		conc = rateWorkers
	}
	conns, streams := connections(conc), conc/connections(conc)
	if h1 {
		conns, streams = conc, 1 // no pipelining: one request in flight per connection
	}
	args := []string{t.h2loadBin, "-t", "1", "-c", strconv.Itoa(conns), "-m", strconv.Itoa(streams), "--log-file", logFile}
	if w.unit == "stream" {
		// A stream lasts about a second: a time window would end every
		// stream in flight uncounted (none, in a short one), so a fixed
		// number of streams is run to their end instead, as ghz waits for
		// them: one per worker, or the rate's worth of the window.
		n := conc
		if l.rate > 0 {
			n = max(int(l.rate*l.duration.Seconds()+0.5), 1)
		}
		args = append(args, "-n", strconv.Itoa(max(n, conns)))
	} else {
		args = append(args, "-D", strconv.FormatInt(l.duration.Milliseconds(), 10)+"ms")
	}
	if h1 {
		args = append(args, "--h1")
	}
	if l.rate > 0 {
		// --rps is per client (connection).
		args = append(args, "--rps", strconv.FormatFloat(l.rate/float64(conns), 'f', 2, 64))
	}
	if w.restMethod != "GET" {
		args = append(args, "-H", ":method: "+w.restMethod)
	}
	for _, h := range headers {
		args = append(args, "-H", h)
	}
	if w.restBodyFile != "" {
		args = append(args, "-H", "content-type: "+contentType, "-d", w.restBodyFile)
	}
	args = append(args, base+w.restPath)
	out, err := runTool(ctx, l.duration+90*time.Second, args)
	if err != nil {
		return result{}, err
	}
	sum, err := parseH2loadSummary(out)
	if err != nil {
		return result{}, err
	}
	lf, err := os.Open(logFile)
	if err != nil {
		return result{}, err
	}
	defer lf.Close()
	r, err := parseH2loadLog(lf)
	if err != nil {
		return result{}, err
	}
	r.elapsed = sum.elapsed
	// Requests that failed before a response (connection errors, timeouts)
	// have no log line.
	r.errors += sum.errored + sum.timeout
	if r.errSample == "" && sum.errored+sum.timeout > 0 {
		r.errSample = fmt.Sprintf("h2load: %d errored, %d timed out", sum.errored, sum.timeout)
	}
	return r, nil
}

type h2loadSummary struct {
	elapsed                     time.Duration
	done, errored, timeout, xx2 int
}

var (
	h2Finished = regexp.MustCompile(`finished in ([0-9.]+)(us|ms|s),`)
	h2Requests = regexp.MustCompile(`requests: \d+ total, \d+ started, (\d+) done, \d+ succeeded, \d+ failed, (\d+) errored, (\d+) timeout`)
	h2Status   = regexp.MustCompile(`status codes: (\d+) 2xx`)
)

// parseH2loadSummary reads h2load's closing summary.
func parseH2loadSummary(out []byte) (h2loadSummary, error) {
	var s h2loadSummary
	m := h2Finished.FindSubmatch(out)
	r := h2Requests.FindSubmatch(out)
	st := h2Status.FindSubmatch(out)
	if m == nil || r == nil || st == nil {
		return s, fmt.Errorf("h2load printed no summary: %s", tail(out, 400))
	}
	v, _ := strconv.ParseFloat(string(m[1]), 64)
	unit := map[string]time.Duration{"us": time.Microsecond, "ms": time.Millisecond, "s": time.Second}[string(m[2])]
	s.elapsed = time.Duration(v * float64(unit))
	s.done, _ = strconv.Atoi(string(r[1]))
	s.errored, _ = strconv.Atoi(string(r[2]))
	s.timeout, _ = strconv.Atoi(string(r[3]))
	s.xx2, _ = strconv.Atoi(string(st[1]))
	return s, nil
}

// parseH2loadLog reads h2load's per-request log: start time (µs since the
// epoch), HTTP status, and µs until the response ended, tab-separated.
func parseH2loadLog(r interface{ Read([]byte) (int, error) }) (result, error) {
	var res result
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Bytes()
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		f := strings.Split(string(line), "\t")
		if len(f) < 3 {
			return result{}, fmt.Errorf("h2load log line %q", line)
		}
		code, err1 := strconv.Atoi(f[1])
		us, err2 := strconv.ParseInt(strings.TrimSpace(f[2]), 10, 64)
		if err1 != nil || err2 != nil {
			return result{}, fmt.Errorf("h2load log line %q", line)
		}
		if code >= 200 && code < 300 {
			res.ok++
			res.latencies = append(res.latencies, time.Duration(us)*time.Microsecond)
			continue
		}
		res.errors++
		if res.errSample == "" {
			res.errSample = "HTTP " + f[1]
		}
	}
	return res, sc.Err()
}

// percentile returns the q-quantile (0 < q <= 1) of sorted by the
// nearest-rank method; zero for no samples.
func percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(q*float64(len(sorted))+0.999999999) - 1
	return sorted[min(max(rank, 0), len(sorted)-1)]
}

func sortDurations(d []time.Duration) {
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
}
