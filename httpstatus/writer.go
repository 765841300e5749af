package httpstatus

import (
	"net/http"
	"strconv"
	"strings"

	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
)

// Writer writes gRPC statuses as HTTP error responses: the status from
// FromCode and a google.rpc.Status JSON body whose details carry their
// resolved "@type". The zero Writer resolves detail types through the
// types linked into the binary. A Writer is a small value, safe for
// concurrent use; it is meant to be embedded (the REST transcoder keeps
// one per call, with that call's JSON options).
type Writer struct {
	marshal protojson.MarshalOptions
}

// NewWriter returns a Writer printing bodies with marshal (its Resolver
// resolves the types of status details; nil uses the linked types).
func NewWriter(marshal protojson.MarshalOptions) Writer {
	return Writer{marshal: marshal}
}

// WriteStatus writes st to w with the HTTP status FromCode gives its code.
// Headers set on w before the call are kept.
func (ew *Writer) WriteStatus(w http.ResponseWriter, st *status.Status) {
	ew.WriteStatusAs(w, st, FromCode(st.Code()))
}

// WriteStatusAs writes st with an HTTP status that the code table does not
// give, for HTTP-only failures such as 405, 406 and 415.
func (ew *Writer) WriteStatusAs(w http.ResponseWriter, st *status.Status, httpStatus int) {
	body := ew.JSON(st)
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(httpStatus)
	_, _ = w.Write(body)
}

// JSON returns st as a google.rpc.Status JSON object, for the places that
// carry an error inside a body (a stream's last line or event). It never
// fails: a message that is not UTF-8 is repaired and a detail that does
// not print is left out.
func (ew *Writer) JSON(st *status.Status) []byte {
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
