package connectproto

import (
	"testing"

	"google.golang.org/grpc/codes"
)

// TestConnectStatusTable pins the HTTP status of every code to the
// Connect protocol's table (connectrpc.com/docs/protocol, "Error Codes"),
// and the code names to its wire names.
func TestConnectStatusTable(t *testing.T) {
	t.Parallel()
	want := map[codes.Code]struct {
		name   string
		status int
	}{
		codes.Canceled: {"canceled", 499}, codes.Unknown: {"unknown", 500}, codes.InvalidArgument: {"invalid_argument", 400},
		codes.DeadlineExceeded: {"deadline_exceeded", 504}, codes.NotFound: {"not_found", 404},
		codes.AlreadyExists: {"already_exists", 409}, codes.PermissionDenied: {"permission_denied", 403},
		codes.ResourceExhausted: {"resource_exhausted", 429}, codes.FailedPrecondition: {"failed_precondition", 400},
		codes.Aborted: {"aborted", 409}, codes.OutOfRange: {"out_of_range", 400}, codes.Unimplemented: {"unimplemented", 501},
		codes.Internal: {"internal", 500}, codes.Unavailable: {"unavailable", 503}, codes.DataLoss: {"data_loss", 500},
		codes.Unauthenticated: {"unauthenticated", 401},
	}
	for c, w := range want {
		if got := httpStatus(c); got != w.status {
			t.Errorf("%v: HTTP %d, want %d", c, got, w.status)
		}
		if got := codeName(c); got != w.name {
			t.Errorf("%v: named %q, want %q", c, got, w.name)
		}
	}
	if got := codeName(codes.Code(99)); got != "unknown" {
		t.Errorf("code 99 named %q, want unknown", got)
	}
}
