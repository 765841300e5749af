package transcoding

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strings"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/sluice-dev/sluice/httpstatus"
)

// readBody reads the whole request body, appending it to buf (sized up
// front from Content-Length, once the budget took it, so a large body is
// not copied as it grows),
// refusing one longer than limit with RESOURCE_EXHAUSTED (413) before
// reading it when Content-Length says so, and as soon as the limit is
// crossed otherwise. What it buffers is reserved in rb's budget first
// (RESOURCE_EXHAUSTED, 429, when it does not fit), and the read is bounded
// by rb's timeout and ended with the call (see requestBody). It returns
// buf, grown, even on failure.
func readBody(w http.ResponseWriter, r *http.Request, limit int64, rb *requestBody, buf []byte) ([]byte, error) {
	buf = buf[:0]
	if r.Body == nil || r.Body == http.NoBody {
		rb.finishRead()
		return buf, nil
	}
	if r.ContentLength > limit {
		return buf, withHTTPStatus(status.Newf(codes.ResourceExhausted, "request body of %d bytes is larger than the limit of %d bytes", r.ContentLength, limit), http.StatusRequestEntityTooLarge)
	}
	if r.ContentLength >= 0 && !rb.grow(r.ContentLength+1) {
		return buf, errBudget(rb.budget.limit)
	}
	switch {
	case r.ContentLength >= 0 && int64(cap(buf)) <= r.ContentLength:
		// One byte more than announced, to see the end without growing:
		// growing a large body step by step leaves about its size again
		// in garbage. The budget already holds what this allocates.
		buf = make([]byte, 0, r.ContentLength+1)
	case r.ContentLength >= 0:
		// A recycled buffer larger than the body: only what the body
		// needs is reserved and used.
		buf = buf[: 0 : r.ContentLength+1]
	case cap(buf) > unknownLengthStart:
		// Unknown length: start small, and reserve as the body grows.
		buf = buf[:0:unknownLengthStart]
	}
	if !rb.grow(int64(cap(buf))) {
		return buf, errBudget(rb.budget.limit)
	}
	rb.startRead()
	buf, err := readAll(http.MaxBytesReader(w, r.Body, limit), buf, rb.grow)
	if err != nil {
		var tooBig *http.MaxBytesError
		switch {
		case errors.As(err, &tooBig):
			return buf, withHTTPStatus(status.Newf(codes.ResourceExhausted, "request body is larger than the limit of %d bytes", limit), http.StatusRequestEntityTooLarge)
		case errors.Is(err, errBudgetFull):
			return buf, errBudget(rb.budget.limit)
		}
		return buf, rb.readError(r.Context(), err)
	}
	rb.finishRead()
	return buf, nil
}

// readAll is io.ReadAll appending to buf. Before buf grows, reserve is
// asked for its new capacity; when it refuses, reading stops with
// errBudgetFull.
func readAll(rd io.Reader, buf []byte, reserve func(size int64) bool) ([]byte, error) {
	if cap(buf) == 0 {
		if !reserve(512) {
			return buf, errBudgetFull
		}
		buf = make([]byte, 0, 512)
	}
	for {
		n, err := rd.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err != nil {
			if errors.Is(err, io.EOF) {
				return buf, nil
			}
			return buf, err
		}
		if len(buf) == cap(buf) {
			size := 2 * cap(buf)
			if cap(buf) >= 256<<10 {
				size = cap(buf) + cap(buf)/2
			}
			if !reserve(int64(size)) {
				return buf, errBudgetFull
			}
			grown := make([]byte, len(buf), size)
			copy(grown, buf)
			buf = grown
		}
	}
}

// unknownLengthStart is the most of a recycled buffer a body of unknown
// length starts with (and reserves) before it grows.
const unknownLengthStart = 32 << 10

// errBudgetFull stops readAll when the buffered-bytes budget is spent.
var errBudgetFull = errors.New("request body budget spent")

// checkJSONContentType accepts what a JSON body may be labelled with:
// nothing, application/json or any application/*+json. Anything else is
// UNSUPPORTED_MEDIA_TYPE (415): decoding a form or XML as JSON would only
// produce a confusing syntax error.
func checkJSONContentType(ct string) error {
	if ct == "" {
		return nil
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err == nil && (mt == "application/json" || strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json")) {
		return nil
	}
	return withHTTPStatus(status.Newf(codes.InvalidArgument, "content type %q is not supported: send application/json", ct), http.StatusUnsupportedMediaType)
}

// httpStatusError is a failure whose HTTP status is not the one the code
// table gives: 413 for an oversize body (RESOURCE_EXHAUSTED would be 429,
// which says "slow down", not "send less") and 415 for a content type.
type httpStatusError struct {
	st         *status.Status
	httpStatus int
}

func (e *httpStatusError) Error() string { return e.st.Message() }

// GRPCStatus lets status.Convert see the status inside.
func (e *httpStatusError) GRPCStatus() *status.Status { return e.st }

func withHTTPStatus(st *status.Status, httpStatus int) error {
	return &httpStatusError{st: st, httpStatus: httpStatus}
}

// httpStatusOf returns err's status and the HTTP status it answers with:
// the code table's, unless err carries its own (httpStatusError).
func httpStatusOf(err error) (*status.Status, int) {
	st := status.Convert(err)
	var hs *httpStatusError
	if errors.As(err, &hs) {
		return st, hs.httpStatus
	}
	return st, httpstatus.FromCode(st.Code())
}

// isBlank reports whether b holds only JSON whitespace: an empty body,
// which binds nothing, as with grpc-gateway.
func isBlank(b []byte) bool {
	return len(bytes.Trim(b, " \t\r\n")) == 0
}

// checkDepth refuses JSON nested deeper than max, scanning once without
// decoding, so that no decoder ever recurses on attacker-chosen depth.
func checkDepth(b []byte, max int) error {
	depth, inString := 0, false
	for i := 0; i < len(b); i++ {
		c := b[i]
		if inString {
			switch c {
			case '\\':
				i++
			case '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case '{', '[':
			depth++
			if depth > max {
				return fmt.Errorf("JSON body nests deeper than %d levels", max)
			}
		case '}', ']':
			depth--
		}
	}
	return nil
}

// bindBody decodes body into m as the binding says: the whole message
// (body "*"), one top-level field, or, for google.api.HttpBody, the raw
// bytes and the request's content type.
func (h *REST) bindBody(m protoreflect.Message, b *binding, body []byte, contentType string, unmarshal protojson.UnmarshalOptions) error {
	switch {
	case b.rawRequest:
		setHTTPBody(m, contentType, body)
		return nil
	case b.rawBodyField:
		setHTTPBody(bodyParent(m, b).Mutable(b.bodyField).Message(), contentType, body)
		return nil
	}
	if b.body == bodyField {
		// A nested body field ("payload.input_value") is bound inside
		// its parents, which exist even when the body is empty, as
		// grpc-gateway's handlers create them.
		m = bodyParent(m, b)
	}
	if err := checkJSONContentType(contentType); err != nil {
		return err
	}
	if isBlank(body) {
		// Like grpc-gateway, an empty body for a message field yields an
		// empty message rather than none, so upstream validation reports
		// the field's own required members.
		if b.body != bodyAll {
			fd := b.bodyField
			switch of := fd.ContainingOneof(); {
			case fd.Message() != nil && !fd.IsList() && !fd.IsMap():
				m.Mutable(fd)
			case of != nil && !of.IsSynthetic() && m.WhichOneof(of) == nil:
				// grpc-gateway's handlers select a oneof member the
				// body binds before decoding into it.
				m.Set(fd, fd.Default())
			}
		}
		return nil
	}
	if err := checkDepth(body, h.cfg.maxDepth); err != nil {
		return status.Error(codes.InvalidArgument, err.Error())
	}
	if b.body == bodyAll {
		if err := unmarshal.Unmarshal(body, m.Interface()); err != nil {
			return status.Error(codes.InvalidArgument, err.Error())
		}
		return nil
	}
	fd := b.bodyField
	if fd.Message() != nil && !fd.IsList() && !fd.IsMap() {
		if err := unmarshal.Unmarshal(body, m.Mutable(fd).Message().Interface()); err != nil {
			return status.Error(codes.InvalidArgument, err.Error())
		}
		return nil
	}
	// A scalar, repeated or map field: decode it as the one field of an
	// object of the request type, which protojson knows how to read.
	wrapped := make([]byte, 0, len(body)+len(fd.JSONName())+5)
	wrapped = append(wrapped, `{"`...)
	wrapped = append(wrapped, fd.JSONName()...)
	wrapped = append(wrapped, `":`...)
	wrapped = append(wrapped, body...)
	wrapped = append(wrapped, '}')
	tmp := m.New()
	if err := unmarshal.Unmarshal(wrapped, tmp.Interface()); err != nil {
		return status.Error(codes.InvalidArgument, err.Error())
	}
	if tmp.Has(fd) {
		m.Set(fd, tmp.Get(fd))
	}
	return nil
}

// bodyParent returns the message of m that holds the body field: m, or for
// a nested body field the innermost of its parents, created as needed.
func bodyParent(m protoreflect.Message, b *binding) protoreflect.Message {
	for _, fd := range b.bodyParents {
		m = m.Mutable(fd).Message()
	}
	return m
}

// setHTTPBody fills a google.api.HttpBody, generated or dynamic.
func setHTTPBody(m protoreflect.Message, contentType string, data []byte) {
	fields := m.Descriptor().Fields()
	if fd := fields.ByName("content_type"); fd != nil && contentType != "" {
		m.Set(fd, protoreflect.ValueOfString(contentType))
	}
	if fd := fields.ByName("data"); fd != nil && len(data) > 0 {
		m.Set(fd, protoreflect.ValueOfBytes(data))
	}
}

// fillUpdateMask implements the PATCH convention of grpc-gateway: an empty
// update_mask is filled with the paths of the fields the JSON body set.
// The mask is then always present, empty when the body sets no field or
// there is no body (grpc-gateway sends an empty mask for no body too), so
// an upstream sees the same request for both.
func fillUpdateMask(m protoreflect.Message, b *binding, body []byte) error {
	if b.updateMask == nil {
		return nil
	}
	mask := m.Get(b.updateMask).Message()
	paths := mask.Descriptor().Fields().ByName("paths")
	if paths == nil || mask.Get(paths).List().Len() > 0 {
		return nil
	}
	v := m.NewField(b.updateMask)
	if !isBlank(body) {
		fm, err := runtime.FieldMaskFromRequestBody(bytes.NewReader(body), bodyParent(m, b).Get(b.bodyField).Message().Interface())
		if err != nil {
			return status.Error(codes.InvalidArgument, err.Error())
		}
		// A body with no fields ({}) yields one empty path from
		// grpc-gateway's runtime; it names no field, so the mask stays
		// empty.
		fm.Paths = slices.DeleteFunc(fm.Paths, func(p string) bool { return p == "" })
		if err := convertMessage(fm, v.Message()); err != nil {
			return status.Error(codes.Internal, err.Error())
		}
	}
	m.Set(b.updateMask, v)
	return nil
}
