package connectproto

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/sluice-dev/sluice/httpstatus"
)

// codeNames are the Connect protocol's names of the status codes.
var codeNames = [...]string{
	codes.OK:                 "ok",
	codes.Canceled:           "canceled",
	codes.Unknown:            "unknown",
	codes.InvalidArgument:    "invalid_argument",
	codes.DeadlineExceeded:   "deadline_exceeded",
	codes.NotFound:           "not_found",
	codes.AlreadyExists:      "already_exists",
	codes.PermissionDenied:   "permission_denied",
	codes.ResourceExhausted:  "resource_exhausted",
	codes.FailedPrecondition: "failed_precondition",
	codes.Aborted:            "aborted",
	codes.OutOfRange:         "out_of_range",
	codes.Unimplemented:      "unimplemented",
	codes.Internal:           "internal",
	codes.Unavailable:        "unavailable",
	codes.DataLoss:           "data_loss",
	codes.Unauthenticated:    "unauthenticated",
}

// codeName is the Connect name of c; codes outside the table are unknown.
func codeName(c codes.Code) string {
	if int(c) < len(codeNames) && c != codes.OK {
		return codeNames[c]
	}
	return "unknown"
}

// httpStatus is the HTTP status of a unary Connect error with code c.
// Connect's table (connectrpc.com/docs/protocol, "Error Codes") is the one
// google.rpc.Code documents, which httpstatus holds for every protocol;
// TestConnectStatusTable pins the two together.
func httpStatus(c codes.Code) int { return httpstatus.FromCode(c) }

// wireError is Connect's JSON error object.
type wireError struct {
	Code    string       `json:"code"`
	Message string       `json:"message,omitempty"`
	Details []wireDetail `json:"details,omitempty"`
}

// wireDetail is one error detail: the detail message's full type name and
// its wire bytes in unpadded standard base64.
type wireDetail struct {
	Type  string `json:"type"`
	Value string `json:"value"`
}

// toWireError describes st in Connect's JSON error form.
func toWireError(st *status.Status) *wireError {
	e := &wireError{Code: codeName(st.Code()), Message: st.Message()}
	for _, d := range st.Proto().GetDetails() {
		name := d.GetTypeUrl()
		if i := strings.LastIndexByte(name, '/'); i >= 0 {
			name = name[i+1:]
		}
		e.Details = append(e.Details, wireDetail{Type: name, Value: base64.RawStdEncoding.EncodeToString(d.GetValue())})
	}
	return e
}

// errorJSON is the body of a unary error response.
func errorJSON(st *status.Status) []byte {
	b, err := json.Marshal(toWireError(st))
	if err != nil {
		return []byte(`{"code":"internal"}`)
	}
	return b
}

// endStream is the JSON of the end-of-stream message.
type endStream struct {
	Error    *wireError          `json:"error,omitempty"`
	Metadata map[string][]string `json:"metadata,omitempty"`
}

// endStreamJSON is the end-of-stream message of a stream that ended with
// err (nil: success) and trailer metadata md.
func endStreamJSON(err error, md metadata.MD) []byte {
	es := endStream{}
	if err != nil {
		es.Error = toWireError(status.Convert(err))
	}
	if len(md) > 0 {
		es.Metadata = map[string][]string{}
		for k, vs := range md {
			if !responseKey(k) {
				continue
			}
			name := http.CanonicalHeaderKey(k)
			for _, v := range vs {
				es.Metadata[name] = append(es.Metadata[name], headerValue(k, v))
			}
		}
	}
	b, mErr := json.Marshal(es)
	if mErr != nil {
		return []byte(`{"error":{"code":"internal"}}`)
	}
	return b
}

// statusOf converts err, which crosses the gRPC boundary, to a status.
func statusOf(err error) *status.Status {
	if st, ok := status.FromError(err); ok {
		return st
	}
	return status.FromContextError(err)
}
