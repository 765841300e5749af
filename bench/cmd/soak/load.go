package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	libraryv1 "github.com/sluice-dev/sluice/gen/go/sluice/demo/library/v1"
)

// Outcomes that are not gRPC codes.
const (
	outcomeConnError = "CONNECTION_ERROR" // no answer: refused, reset, EOF, truncated stream
	outcomeOK        = "OK"
)

// load drives the calls: each is one of the kinds below, sent to the two
// gateways in turn, paced to o.rate calls per second.
type load struct {
	e     *env
	conns [2]*grpc.ClientConn
	http1 *http.Client
	h2c   *http.Client
	next  atomic.Uint64

	mu       sync.Mutex
	counts   map[string]map[string]int // protocol -> outcome -> calls
	expected map[string]int            // reason -> calls
	unexp    map[string]int            // protocol, call, outcome -> calls
	samples  []string                  // the first unexpected errors in full
	// lag is, per component, the longest a call failed because of its
	// outage after it was back: how long clients and gateways took to
	// reconnect.
	lag map[string]time.Duration
}

type callKind struct {
	proto string // grpc, rest-http1, rest-h2c
	name  string
	do    func(ctx context.Context, gw int) (string, string) // outcome, detail
}

func newLoad(e *env) *load {
	l := &load{e: e, counts: map[string]map[string]int{}, expected: map[string]int{}, unexp: map[string]int{}, lag: map[string]time.Duration{}}
	l.http1 = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64, DisableCompression: true}, Timeout: 15 * time.Second}
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	l.h2c = &http.Client{Transport: &http.Transport{Protocols: &p, DisableCompression: true}, Timeout: 15 * time.Second}
	return l
}

func (l *load) dial() error {
	for i, g := range l.e.gateways {
		cc, err := grpc.NewClient("passthrough:///"+g.addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			return err
		}
		l.conns[i] = cc
	}
	return nil
}

func (l *load) close() {
	for _, cc := range l.conns {
		if cc != nil {
			_ = cc.Close()
		}
	}
	l.http1.CloseIdleConnections()
	l.h2c.CloseIdleConnections()
}

func (l *load) kinds() []callKind {
	lib := func(gw int) libraryv1.LibraryServiceClient { return libraryv1.NewLibraryServiceClient(l.conns[gw]) }
	write := func(ctx context.Context) context.Context {
		return metadata.AppendToOutgoingContext(ctx, "x-api-key", apiKey)
	}
	kinds := []callKind{
		{"grpc", "GetShelf", func(ctx context.Context, gw int) (string, string) {
			_, err := lib(gw).GetShelf(ctx, &libraryv1.GetShelfRequest{Name: "shelves/classics"})
			return grpcOutcome(err)
		}},
		{"grpc", "ListBooks", func(ctx context.Context, gw int) (string, string) {
			_, err := lib(gw).ListBooks(ctx, &libraryv1.ListBooksRequest{Parent: "shelves/classics", PageSize: 5})
			return grpcOutcome(err)
		}},
		{"grpc", "CreateShelf", func(ctx context.Context, gw int) (string, string) {
			_, err := lib(gw).CreateShelf(write(ctx), &libraryv1.CreateShelfRequest{Shelf: &libraryv1.Shelf{DisplayName: "soak"}})
			return grpcOutcome(err)
		}},
		{"grpc", "ExportBooks", func(ctx context.Context, gw int) (string, string) {
			s, err := lib(gw).ExportBooks(ctx, &libraryv1.ExportBooksRequest{Parent: "shelves/classics"})
			for err == nil {
				_, err = s.Recv()
			}
			if errors.Is(err, io.EOF) {
				err = nil
			}
			return grpcOutcome(err)
		}},
	}
	for _, c := range []struct {
		proto  string
		client *http.Client
	}{{"rest-http1", l.http1}, {"rest-h2c", l.h2c}} {
		kinds = append(kinds,
			callKind{c.proto, "GET shelf", func(ctx context.Context, gw int) (string, string) {
				return l.rest(ctx, c.client, gw, "GET", "/v1/shelves/classics", "", false)
			}},
			callKind{c.proto, "GET books", func(ctx context.Context, gw int) (string, string) {
				return l.rest(ctx, c.client, gw, "GET", "/v1/shelves/classics/books?pageSize=5", "", false)
			}},
			callKind{c.proto, "POST shelf", func(ctx context.Context, gw int) (string, string) {
				return l.rest(ctx, c.client, gw, "POST", "/v1/shelves", `{"shelf":{"displayName":"soak"}}`, false)
			}},
			callKind{c.proto, "GET export (stream)", func(ctx context.Context, gw int) (string, string) {
				return l.rest(ctx, c.client, gw, "GET", "/v1/shelves/classics/books:export", "", true)
			}},
		)
	}
	return kinds
}

func grpcOutcome(err error) (string, string) {
	if err == nil {
		return outcomeOK, ""
	}
	st := status.Convert(err)
	return codeName(st.Code()), st.Message()
}

// codeName spells a code as google.rpc.Code does (DEADLINE_EXCEEDED,
// CANCELLED) from grpc-go's CamelCase names.
func codeName(c codes.Code) string {
	switch c {
	case codes.OK:
		return outcomeOK
	case codes.Canceled:
		return "CANCELLED"
	}
	var b strings.Builder
	for i, r := range c.String() {
		if i > 0 && r >= 'A' && r <= 'Z' {
			b.WriteByte('_')
		}
		b.WriteRune(r)
	}
	return strings.ToUpper(b.String())
}

// rest makes one REST call and reads its outcome: 2xx is OK; an error
// answer says its code in its google.rpc.Status body; a stream (NDJSON
// envelope) that ends with an error object reports that code; no answer,
// or a body cut short, is a connection error.
func (l *load) rest(ctx context.Context, c *http.Client, gw int, method, path, body string, stream bool) (string, string) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://"+l.e.gateways[gw].addr+path, rd)
	if err != nil {
		return "CLIENT_BUG", err.Error()
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Api-Key", apiKey)
	}
	resp, err := c.Do(req)
	if err != nil {
		return outcomeConnError, err.Error()
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return outcomeConnError, fmt.Sprintf("HTTP %d, body cut: %v", resp.StatusCode, err)
	}
	if resp.StatusCode/100 != 2 {
		// A google.rpc.Status, or for a stream the same inside "error".
		var st struct {
			statusBody
			Error *statusBody `json:"error"`
		}
		if json.Unmarshal(b, &st) != nil || (st.Code == 0 && st.Error == nil) {
			return fmt.Sprintf("HTTP_%d", resp.StatusCode), string(b)
		}
		if st.Error != nil {
			st.statusBody = *st.Error
		}
		return codeName(codes.Code(st.Code)), fmt.Sprintf("HTTP %d: %s", resp.StatusCode, st.Message)
	}
	if stream {
		sc := bufio.NewScanner(bytes.NewReader(b))
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var line struct {
				Error *statusBody `json:"error"`
			}
			if json.Unmarshal(sc.Bytes(), &line) != nil {
				return outcomeConnError, "stream line is not JSON (cut?): " + sc.Text()
			}
			if line.Error != nil {
				return codeName(codes.Code(line.Error.Code)), "in stream: " + line.Error.Message
			}
		}
	}
	return outcomeOK, ""
}

// statusBody is the JSON of a google.rpc.Status.
type statusBody struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

// run sends calls until ctx ends.
func (l *load) run(ctx context.Context) {
	kinds := l.kinds()
	tokens := make(chan struct{}, l.e.o.workers)
	var wg sync.WaitGroup
	for range l.e.o.workers {
		wg.Go(func() {
			for range tokens {
				n := l.next.Add(1)
				k := kinds[int(n/2)%len(kinds)]
				l.call(k, int(n%2))
			}
		})
	}
	tick := time.NewTicker(time.Second / time.Duration(max(l.e.o.rate, 1)))
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			close(tokens)
			wg.Wait()
			return
		case <-tick.C:
			select {
			case tokens <- struct{}{}:
			default: // every worker busy: the gateway is slow; skip
			}
		}
	}
}

func (l *load) call(k callKind, gw int) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	outcome, detail := k.do(ctx, gw)
	end := time.Now()
	reason, lag, ok := l.classify(outcome, gw, start, end)
	l.mu.Lock()
	defer l.mu.Unlock()
	if ok && lag > l.lag[reason] {
		l.lag[reason] = lag
	}
	if l.counts[k.proto] == nil {
		l.counts[k.proto] = map[string]int{}
	}
	l.counts[k.proto][outcome]++
	switch {
	case outcome == outcomeOK:
	case ok:
		l.expected[reason+": "+outcome]++
	default:
		l.unexp[fmt.Sprintf("%s %s -> gateway-%d: %s", k.proto, k.name, gw+1, outcome)]++
		if len(l.samples) < 30 {
			l.samples = append(l.samples, fmt.Sprintf("%7.1fs %s %s -> gateway-%d: %s: %s",
				start.Sub(l.e.start).Seconds(), k.proto, k.name, gw+1, outcome, detail))
		}
	}
}

// classify is the one rule that tells expected errors from unexpected
// ones (see the package comment). It returns the reason an error is
// expected, how long after the outage that explains it ended the call
// ended, and whether the error is expected.
func (l *load) classify(outcome string, gw int, start, end time.Time) (string, time.Duration, bool) {
	grace := l.e.o.grace
	switch outcome {
	case outcomeOK:
		return "", 0, true
	case "RESOURCE_EXHAUSTED":
		return "limit", 0, true
	case "UNAVAILABLE", outcomeConnError:
		if lag, ok := l.e.outages.overlaps("upstream", start, end, grace); ok {
			return "upstream down", lag, true
		}
		if lag, ok := l.e.outages.overlaps(fmt.Sprintf("gateway-%d", gw+1), start, end, grace); ok {
			return "its gateway down", lag, true
		}
	}
	return "", 0, false
}
