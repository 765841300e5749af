package transcoding

import (
	"net/http"
	"strconv"
	"strings"

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
	ew.writeStatus(w, st, HTTPStatus(st.Code()))
}

// writeStatus writes st with an HTTP status that the code table does not
// give, for HTTP-only failures such as 405, 406 and 415.
func (ew *ErrorWriter) writeStatus(w http.ResponseWriter, st *status.Status, httpStatus int) {
	body := ew.statusJSON(st)
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(httpStatus)
	_, _ = w.Write(body)
}

// statusJSON is st as a google.rpc.Status JSON object.
func (ew *ErrorWriter) statusJSON(st *status.Status) []byte {
	body, err := ew.marshal.Marshal(st.Proto())
	if err == nil {
		return body
	}
	// A message that is not UTF-8 (it may quote the client's bytes) or a
	// detail whose type cannot be resolved: keep the code, a valid message
	// and every detail that does render.
	p := st.Proto()
	p.Message = strings.ToValidUTF8(p.GetMessage(), "\uFFFD")
	details := p.GetDetails()
	p.Details = nil
	for _, d := range details {
		if _, err := ew.marshal.Marshal(d); err == nil {
			p.Details = append(p.Details, d)
		}
	}
	body, err = ew.marshal.Marshal(p)
	if err != nil {
		body, _ = ew.marshal.Marshal(status.New(st.Code(), p.GetMessage()).Proto())
	}
	return body
}
