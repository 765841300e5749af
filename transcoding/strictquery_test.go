package transcoding_test

import (
	"strings"
	"testing"

	"google.golang.org/grpc/codes"

	"github.com/sluice-dev/sluice/transcoding"
)

// With strict query parameters, a parameter that names a field the path
// or the body binds is refused, as one naming no field is; without, it is
// ignored (the path and the body win).
func TestStrictQueryRefusesBoundFields(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, method, target, body, param string
	}{
		{"path variable", "GET", "/v1/shelves/s?name=shelves/other", "", "name"},
		{"path variable of a body route", "POST", "/v1/shelves/s/books?parent=shelves/other", `{"title":"T"}`, "parent"},
		{"body field", "POST", "/v1/shelves/s/books?book.title=Other", `{"title":"T"}`, "book.title"},
		{"body field by JSON name", "POST", "/v1/shelves/s/books?book.readingTime=1s", `{"title":"T"}`, "book.readingTime"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := serve(newHandler(t, &captureDispatcher{}, transcoding.WithStrictQuery()), tc.method, tc.target, tc.body)
			if w.Code != 400 {
				t.Fatalf("strict: status %d, want 400: %s", w.Code, w.Body)
			}
			st := statusFromBody(t, w.Body.Bytes())
			if st.Code() != codes.InvalidArgument || !strings.Contains(st.Message(), tc.param) || !strings.Contains(st.Message(), "binds") {
				t.Errorf("strict: %v %q, want INVALID_ARGUMENT naming %q", st.Code(), st.Message(), tc.param)
			}
			if w := serve(newHandler(t, &captureDispatcher{}), tc.method, tc.target, tc.body); w.Code != 200 {
				t.Errorf("not strict: status %d, want 200 (the parameter ignored): %s", w.Code, w.Body)
			}
		})
	}
}
