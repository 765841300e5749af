package transcoding

import (
	"net/http"
	"strconv"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/reflect/protoregistry"
)

// HTTPStatus is the one mapping from a gRPC code to an HTTP status, used by
// every HTTP-facing part of the gateway. It follows the table documented
// with google.rpc.Code (the same one grpc-gateway uses), so REST clients
// can switch gateways without relearning errors.
func HTTPStatus(c codes.Code) int {
	return runtime.HTTPStatusFromCode(c)
}

// ErrorWriter writes gRPC statuses as HTTP error responses: the status from
// HTTPStatus and a google.rpc.Status JSON body whose details carry their
// resolved "@type".
type ErrorWriter struct {
	marshal protojson.MarshalOptions
}

// NewErrorWriter returns an ErrorWriter resolving detail types through
// resolver; nil uses the types linked into the binary.
func NewErrorWriter(resolver interface {
	protoregistry.ExtensionTypeResolver
	protoregistry.MessageTypeResolver
}) *ErrorWriter {
	if resolver == nil {
		resolver = protoregistry.GlobalTypes
	}
	return &ErrorWriter{marshal: protojson.MarshalOptions{Resolver: resolver}}
}

// WriteStatus writes st to w. Headers set on w before the call are kept.
func (ew *ErrorWriter) WriteStatus(w http.ResponseWriter, st *status.Status) {
	body, err := ew.marshal.Marshal(st.Proto())
	if err != nil {
		// A detail whose type cannot be resolved: keep code and message.
		body, _ = ew.marshal.Marshal(status.New(st.Code(), st.Message()).Proto())
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(HTTPStatus(st.Code()))
	_, _ = w.Write(body)
}
