package transcoding

import (
	"context"
	"errors"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	errdetails "google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
)

// A REST request body is read only when the proxy asks for the request
// message, that is after every policy accepted the call on its headers
// alone: a call that authentication, authorization, a rate or concurrency
// limit refuses never reads its body, and a call that is read counts
// against the concurrency limits from the moment its headers arrived.
// Three bounds keep what a slow or stalled client can hold:
//
//   - the body of a unary call must arrive within the body-read timeout
//     (WithBodyReadTimeout), after which the call ends with
//     DEADLINE_EXCEEDED (HTTP 408);
//   - the call's deadline and the policies' timeouts end a read in flight
//     (protocol.WithEnd);
//   - the bytes buffered for request bodies across all calls stay within
//     one budget (WithMaxBufferedBytes); a body that does not fit is
//     refused with RESOURCE_EXHAUSTED (HTTP 429) before, or as soon as, it
//     would cross it.

// DefaultBodyReadTimeout bounds how long a unary call's request body may
// take to arrive unless WithBodyReadTimeout says otherwise: generous for a
// 4 MiB body on a slow link, short enough that stalled bodies do not pile
// up.
const DefaultBodyReadTimeout = 30 * time.Second

// DefaultMaxBufferedBytes is the gateway-wide budget of buffered request
// bytes unless WithMaxBufferedBytes says otherwise: eight default-sized
// bodies at once.
const DefaultMaxBufferedBytes = 32 << 20

// byteBudget counts bytes reserved against a limit. It is safe for
// concurrent use.
type byteBudget struct {
	limit int64
	used  atomic.Int64
}

// reserve takes n bytes, or reports false (taking nothing) when they do
// not fit.
func (b *byteBudget) reserve(n int64) bool {
	if n <= 0 {
		return true
	}
	if b.used.Add(n) > b.limit {
		b.used.Add(-n)
		return false
	}
	return true
}

func (b *byteBudget) release(n int64) {
	if n > 0 {
		b.used.Add(-n)
	}
}

// errBudget is the refusal of a body that does not fit the budget.
func errBudget(limit int64) error {
	st := status.Newf(codes.ResourceExhausted,
		"the gateway is buffering %d bytes of request bodies, its limit: retry later", limit)
	if d, err := st.WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(time.Second)}); err == nil {
		st = d
	}
	return st.Err()
}

// requestBody is the state of one call's request body: its share of the
// budget, its read deadline, and whether a policy ended the call.
type requestBody struct {
	rc      *http.ResponseController
	budget  *byteBudget
	timeout time.Duration // of a whole unary body; 0: none

	mu    sync.Mutex
	ended bool      // a policy ended the call; guarded by mu
	cause error     // why; guarded by mu
	eof   bool      // the body was read to its end; guarded by mu
	due   time.Time // when the armed read timeout fires; guarded by mu
	// handlerDone: ServeHTTP is returning; rc must not be used. Guarded
	// by mu.
	handlerDone bool
	held        int64 // bytes reserved; only the reading goroutine touches it
}

func newRequestBody(rc *http.ResponseController, budget *byteBudget, timeout time.Duration) *requestBody {
	return &requestBody{rc: rc, budget: budget, timeout: timeout}
}

// end is installed with protocol.WithEnd: a read in flight, or any later
// one, fails at once. A body already read to its end is left alone (on
// HTTP/1.1 a read deadline would then break the connection's own
// background read and cancel the request).
func (rb *requestBody) end(cause error) {
	rb.mu.Lock()
	defer rb.mu.Unlock()
	if rb.ended {
		return
	}
	rb.ended, rb.cause = true, cause
	if !rb.eof && !rb.handlerDone {
		_ = rb.rc.SetReadDeadline(time.Now())
	}
}

// handlerReturns is called by the handler as it returns: from then on
// net/http's ResponseWriter may be gone (using it panics), so a late end
// (the call's context is cancelled as the handler returns) must not touch
// it.
func (rb *requestBody) handlerReturns() {
	rb.mu.Lock()
	rb.handlerDone = true
	rb.mu.Unlock()
}

// startRead arms the whole-body read timeout (unless a policy ended the
// call already, which keeps reads failing).
func (rb *requestBody) startRead() {
	rb.mu.Lock()
	defer rb.mu.Unlock()
	if rb.ended {
		return
	}
	if rb.timeout > 0 {
		rb.due = time.Now().Add(rb.timeout)
		_ = rb.rc.SetReadDeadline(rb.due)
	}
}

// finishRead notes that the body was read to its end and disarms the read
// timeout.
func (rb *requestBody) finishRead() {
	rb.mu.Lock()
	defer rb.mu.Unlock()
	rb.eof = true
	if !rb.ended && rb.timeout > 0 {
		_ = rb.rc.SetReadDeadline(time.Time{})
	}
}

// readError words a failure to read the body: the policy's cause when one
// ended the call, the client's going away, the read timeout, or the
// client's fault.
func (rb *requestBody) readError(ctx context.Context, err error) error {
	rb.mu.Lock()
	ended, cause, due := rb.ended, rb.cause, rb.due
	rb.mu.Unlock()
	switch {
	case ended && errors.Is(cause, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, "the call's deadline passed while its request body was read")
	case errors.Is(err, os.ErrDeadlineExceeded) && !due.IsZero() && !time.Now().Before(due):
		// Our own read timeout. Checked before the call's end and its
		// context: on HTTP/1.1 the failed read cancels the request's
		// context, which ends the call too.
		return withHTTPStatus(status.Newf(codes.DeadlineExceeded,
			"the request body did not arrive within %v", rb.timeout), http.StatusRequestTimeout)
	case ended:
		return status.Error(codes.Canceled, "the call ended while its request body was read")
	case ctx.Err() != nil:
		return status.FromContextError(ctx.Err()).Err()
	}
	return status.Errorf(codes.InvalidArgument, "read request body: %v", err)
}

// grow makes sure size bytes are reserved for the body being read,
// reporting false when the budget cannot take them.
func (rb *requestBody) grow(size int64) bool {
	if rb.budget == nil || size <= rb.held {
		return true
	}
	if !rb.budget.reserve(size - rb.held) {
		return false
	}
	rb.held = size
	return true
}

// releaseAll gives back what the body holds of the budget.
func (rb *requestBody) releaseAll() {
	if rb.budget != nil {
		rb.budget.release(rb.held)
	}
	rb.held = 0
}

// bodyRead reports whether the body was read to its end.
func (rb *requestBody) bodyRead() bool {
	rb.mu.Lock()
	defer rb.mu.Unlock()
	return rb.eof
}
