package transcoding

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// deadlineWriter records read deadlines, and panics on one set after the
// handler returned, as net/http's HTTP/2 ResponseWriter does (its state is
// gone then).
type deadlineWriter struct {
	http.ResponseWriter
	returned bool
	set      int
}

func (w *deadlineWriter) SetReadDeadline(time.Time) error {
	if w.returned {
		panic("SetReadDeadline after the handler returned")
	}
	w.set++
	return nil
}

// A policy's end that comes after the handler returned (the call's
// context is cancelled as the handler returns, and the end runs on its own
// goroutine) leaves the ResponseWriter alone: net/http's HTTP/2 writer
// panics then, which took the whole gateway down under load.
func TestRequestBodyEndAfterHandlerReturned(t *testing.T) {
	t.Parallel()
	w := &deadlineWriter{ResponseWriter: httptest.NewRecorder()}
	rb := newRequestBody(http.NewResponseController(w), &byteBudget{limit: 1 << 20}, time.Second)
	rb.handlerReturns()
	w.returned = true
	rb.end(context.DeadlineExceeded) // must not panic

	// While the handler runs, an end does set the deadline.
	w2 := &deadlineWriter{ResponseWriter: httptest.NewRecorder()}
	rb2 := newRequestBody(http.NewResponseController(w2), &byteBudget{limit: 1 << 20}, time.Second)
	rb2.end(context.DeadlineExceeded)
	if w2.set != 1 {
		t.Errorf("an end while the handler runs set %d read deadlines, want 1", w2.set)
	}
}
