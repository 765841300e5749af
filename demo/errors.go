package demo

import (
	"context"
	"fmt"
	"strings"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/protoadapt"
)

// ErrorDomain is the google.rpc.ErrorInfo domain of every error the demo
// library returns.
const ErrorDomain = "demo.sluice.dev"

// ErrorInfo reasons of the demo library, stable so tests can match them.
const (
	ReasonInvalidArgument     = "INVALID_ARGUMENT"
	ReasonNotFound            = "RESOURCE_NOT_FOUND"
	ReasonAlreadyExists       = "RESOURCE_ALREADY_EXISTS"
	ReasonShelfNotEmpty       = "SHELF_NOT_EMPTY"
	ReasonAlreadyPublished    = "BOOK_ALREADY_PUBLISHED"
	ReasonWatchBufferOverflow = "WATCH_BUFFER_OVERFLOW"
	ReasonInjected            = "DEMO_INJECTED"
	ReasonDiscussionAborted   = "DISCUSSION_ABORTED"
)

// Resource types used in google.rpc.ResourceInfo and ErrorInfo metadata.
const (
	resourceShelf     = "sluice.demo.library.v1.Shelf"
	resourceBook      = "sluice.demo.library.v1.Book"
	resourceShelfFile = "sluice.demo.library.v1.ShelfFile"
)

// statusError builds a status error with details. Details are generated
// messages, so attaching them cannot fail; should it, the bare status is
// still correct.
func statusError(c codes.Code, msg string, details ...protoadapt.MessageV1) error {
	st := status.New(c, msg)
	if withDetails, err := st.WithDetails(details...); err == nil {
		st = withDetails
	}
	return st.Err()
}

func errorInfo(reason string, metadata map[string]string) *errdetails.ErrorInfo {
	return &errdetails.ErrorInfo{Reason: reason, Domain: ErrorDomain, Metadata: metadata}
}

func notFound(resourceType, name string) error {
	return statusError(codes.NotFound,
		fmt.Sprintf("%s %q not found", shortType(resourceType), name),
		errorInfo(ReasonNotFound, map[string]string{"resource_type": resourceType, "resource_name": name}),
		&errdetails.ResourceInfo{ResourceType: resourceType, ResourceName: name, Description: "does not exist"},
	)
}

func alreadyExists(resourceType, name string) error {
	return statusError(codes.AlreadyExists,
		fmt.Sprintf("%s %q already exists", shortType(resourceType), name),
		errorInfo(ReasonAlreadyExists, map[string]string{"resource_type": resourceType, "resource_name": name}),
		&errdetails.ResourceInfo{ResourceType: resourceType, ResourceName: name, Description: "already exists"},
	)
}

func failedPrecondition(reason, subject, description string) error {
	return statusError(codes.FailedPrecondition, description,
		errorInfo(reason, map[string]string{"resource_name": subject}),
		&errdetails.PreconditionFailure{Violations: []*errdetails.PreconditionFailure_Violation{
			{Type: reason, Subject: subject, Description: description},
		}},
	)
}

// contextError turns a context error into CANCELLED or DEADLINE_EXCEEDED.
func contextError(ctx context.Context) error {
	return status.FromContextError(ctx.Err()).Err()
}

func shortType(resourceType string) string {
	short := resourceType[strings.LastIndexByte(resourceType, '.')+1:]
	switch short {
	case "ShelfFile":
		return "file"
	default:
		return strings.ToLower(short)
	}
}

// violations collects every problem of a request so that the client learns
// all of them at once, as a google.rpc.BadRequest.
type violations []*errdetails.BadRequest_FieldViolation

func (v *violations) add(field, format string, args ...any) {
	*v = append(*v, &errdetails.BadRequest_FieldViolation{
		Field:       field,
		Description: fmt.Sprintf(format, args...),
	})
}

// err returns nil when nothing was collected.
func (v violations) err() error {
	if len(v) == 0 {
		return nil
	}
	parts := make([]string, len(v))
	for i, fv := range v {
		parts[i] = fv.GetField() + ": " + fv.GetDescription()
	}
	return statusError(codes.InvalidArgument,
		"invalid request: "+strings.Join(parts, "; "),
		errorInfo(ReasonInvalidArgument, nil),
		&errdetails.BadRequest{FieldViolations: v},
	)
}
