// Package httpstatus is the HTTP face of a gRPC status, shared by every
// HTTP-facing part of the gateway (the REST transcoder, the server's own
// 404 and 500 answers, the gRPC-Web and Connect adapters): the one table
// from gRPC codes to HTTP statuses, and the writer of google.rpc.Status
// JSON error bodies.
//
// It is a leaf: it knows nothing of routes, contracts or the chain, so the
// server can answer in the gateway's error format without importing the
// transcoder.
package httpstatus

import (
	"net/http"

	"google.golang.org/grpc/codes"
)

// byCode is the table documented with google.rpc.Code (the one
// grpc-gateway uses too), so REST clients can switch gateways without
// relearning errors. FailedPrecondition is 400, not 412: the documented
// mapping, and 412 means something else in HTTP.
var byCode = [...]int{
	codes.OK:                 http.StatusOK,
	codes.Canceled:           499, // client closed request
	codes.Unknown:            http.StatusInternalServerError,
	codes.InvalidArgument:    http.StatusBadRequest,
	codes.DeadlineExceeded:   http.StatusGatewayTimeout,
	codes.NotFound:           http.StatusNotFound,
	codes.AlreadyExists:      http.StatusConflict,
	codes.PermissionDenied:   http.StatusForbidden,
	codes.ResourceExhausted:  http.StatusTooManyRequests,
	codes.FailedPrecondition: http.StatusBadRequest,
	codes.Aborted:            http.StatusConflict,
	codes.OutOfRange:         http.StatusBadRequest,
	codes.Unimplemented:      http.StatusNotImplemented,
	codes.Internal:           http.StatusInternalServerError,
	codes.Unavailable:        http.StatusServiceUnavailable,
	codes.DataLoss:           http.StatusInternalServerError,
	codes.Unauthenticated:    http.StatusUnauthorized,
}

// FromCode is the one mapping from a gRPC code to an HTTP status, used by
// REST, gRPC-Web and Connect alike. A code outside google.rpc.Code is 500.
func FromCode(c codes.Code) int {
	if int(c) < len(byCode) {
		return byCode[c]
	}
	return http.StatusInternalServerError
}
