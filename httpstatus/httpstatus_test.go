package httpstatus_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/sluice-dev/sluice/httpstatus"
)

// TestFromCodeMatchesGrpcGateway keeps the table equal to grpc-gateway's,
// which REST clients of either gateway rely on.
func TestFromCodeMatchesGrpcGateway(t *testing.T) {
	t.Parallel()
	for c := codes.Code(0); c <= 20; c++ {
		if got, want := httpstatus.FromCode(c), runtime.HTTPStatusFromCode(c); got != want {
			t.Errorf("FromCode(%v) = %d, want %d", c, got, want)
		}
	}
	if got := httpstatus.FromCode(codes.Code(1 << 31)); got != http.StatusInternalServerError {
		t.Errorf("FromCode(1<<31) = %d, want 500", got)
	}
}

func TestWriteStatus(t *testing.T) {
	t.Parallel()
	var ew httpstatus.Writer
	st, err := status.New(codes.ResourceExhausted, "slow down").WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(2e9)})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	rec.Header().Set("Retry-After", "2")
	ew.WriteStatus(rec, st)
	if rec.Code != http.StatusTooManyRequests {
		t.Errorf("status %d, want 429", rec.Code)
	}
	for k, want := range map[string]string{"Content-Type": "application/json", "X-Content-Type-Options": "nosniff", "Retry-After": "2"} {
		if got := rec.Header().Get(k); got != want {
			t.Errorf("%s: %q, want %q", k, got, want)
		}
	}
	var body struct {
		Code    int
		Message string
		Details []map[string]any
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatalf("body %s: %v", rec.Body, err)
	}
	if body.Code != int(codes.ResourceExhausted) || body.Message != "slow down" || len(body.Details) != 1 ||
		body.Details[0]["@type"] != "type.googleapis.com/google.rpc.RetryInfo" {
		t.Errorf("body %s", rec.Body)
	}

	rec = httptest.NewRecorder()
	ew.WriteStatusAs(rec, status.New(codes.Unimplemented, "no"), http.StatusMethodNotAllowed)
	if rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("WriteStatusAs: status %d, want 405", rec.Code)
	}
}

// TestJSONRepairs: a message that is not UTF-8 and a detail whose type
// the resolver does not know still give a valid body with the code.
func TestJSONRepairs(t *testing.T) {
	t.Parallel()
	st, err := status.New(codes.InvalidArgument, "bad \xff name").WithDetails(&errdetails.BadRequest{})
	if err != nil {
		t.Fatal(err)
	}
	ew := httpstatus.NewWriter(protojson.MarshalOptions{Resolver: new(protoregistry.Types)})
	var body struct {
		Code    int
		Message string
		Details []any
	}
	if err := json.Unmarshal(ew.JSON(st), &body); err != nil {
		t.Fatal(err)
	}
	if body.Code != int(codes.InvalidArgument) || body.Message != "bad \uFFFD name" || len(body.Details) != 0 {
		t.Errorf("got %+v", body)
	}
}
