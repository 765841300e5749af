package ratelimit

import (
	"fmt"
	"time"

	errdetails "google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
)

// exhausted is the refusal of a call over limit name: RESOURCE_EXHAUSTED
// with a RetryInfo saying when the next call may pass, and a QuotaFailure
// naming the limit (never the key, which may be a client's address).
func exhausted(name string, wait time.Duration) error {
	wait = max(wait, time.Millisecond)
	st := status.New(codes.ResourceExhausted, fmt.Sprintf("rate limit %q exceeded: retry in %s", name, wait.Round(time.Millisecond)))
	if d, err := st.WithDetails(
		&errdetails.RetryInfo{RetryDelay: durationpb.New(wait)},
		&errdetails.QuotaFailure{Violations: []*errdetails.QuotaFailure_Violation{{Subject: "ratelimit:" + name, Description: "rate limit exceeded"}}},
	); err == nil {
		st = d
	}
	return st.Err()
}

// unavailable is the refusal of a call whose global limit cannot be
// checked and fails closed.
func unavailable(wait time.Duration) error {
	st := status.New(codes.Unavailable, "rate limit store unreachable")
	if d, err := st.WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(wait)}); err == nil {
		st = d
	}
	return st.Err()
}
