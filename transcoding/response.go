package transcoding

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/net/http/httpguts"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/sluice-dev/sluice/protocol"
)

// fail writes an error that happened before the call was dispatched.
func (c *call) fail(err error) {
	st, code := httpStatusOf(err)
	setChallenge(c.w.Header(), st)
	c.errs.WriteStatusAs(c.w, st, code)
}

// requestsTrailers reports whether the client said it reads HTTP trailers
// (TE: trailers); only then are upstream trailers sent, as grpc-gateway
// does (RFC 9110 6.5.1).
func requestsTrailers(r *http.Request) bool {
	return strings.Contains(strings.ToLower(r.Header.Get("TE")), "trailers")
}

// reportDroppedIncoming logs, once per key for the handler's life, that a
// request header value could not become gRPC metadata.
func (h *REST) reportDroppedIncoming(key string) {
	if _, seen := h.dropped.LoadOrStore("request "+key, true); seen {
		return
	}
	h.cfg.logger.Warn("REST: request header value is not printable ASCII, which gRPC metadata requires; not passed on (logged once per key)",
		slog.String("key", key))
}

// setMetadataHeaders adds md to h as prefix+key headers. A value no HTTP
// header can hold (a control character: gRPC metadata set by a policy, or
// sent by an upstream that does not check what it sends) is dropped and
// reported once per key, never failing the call: HTTP/1.x clients would
// refuse the whole response.
func (c *call) setMetadataHeaders(h http.Header, prefix string, md metadata.MD) {
	for k, vs := range md {
		if !passable(k) || (c.allow != nil && !c.allow(k)) {
			continue
		}
		name := responseHeaderName(prefix, k)
		bin := strings.HasSuffix(k, "-bin")
		for _, v := range vs {
			if bin {
				v = base64.RawStdEncoding.EncodeToString([]byte(v))
			} else if !httpguts.ValidHeaderFieldValue(v) {
				c.h.reportDropped(k)
				continue
			}
			h.Add(name, v)
		}
	}
}

// reportDropped logs, once per metadata key for the handler's life, that
// a value of key could not become an HTTP header.
func (h *REST) reportDropped(key string) {
	if _, seen := h.dropped.LoadOrStore(key, true); seen {
		return
	}
	h.cfg.logger.Warn("REST: response metadata value is not a valid HTTP header value; dropped (logged once per key)",
		slog.String("key", key))
}

// declareTrailers announces the trailers that will follow the body.
// Keys none of whose values setMetadataHeaders would send are left out.
func (c *call) declareTrailers(h http.Header, md metadata.MD) {
	allow := c.allow
	for k, vs := range md {
		if passable(k) && (allow == nil || allow(k)) && slices.ContainsFunc(vs, func(v string) bool {
			return strings.HasSuffix(k, "-bin") || httpguts.ValidHeaderFieldValue(v)
		}) {
			h.Add("Trailer", responseHeaderName(trailerHeaderPrefix, k))
		}
	}
}

// writeError writes the call's final error with the upstream's headers
// and, when asked for, its trailers.
func (c *call) writeError(s *protocol.Stream, err error) {
	st, code := httpStatusOf(err)
	h := c.w.Header()
	hdr, _ := s.Headers()
	c.setMetadataHeaders(h, metadataHeaderPrefix, hdr)
	setChallenge(h, st)
	if !requestsTrailers(c.r) {
		c.errs.WriteStatusAs(c.w, st, code)
		return
	}
	trl := s.Trailers()
	c.declareTrailers(h, trl)
	body := c.errs.JSON(st)
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	c.w.WriteHeader(code)
	_, _ = c.w.Write(body)
	c.setMetadataHeaders(h, trailerHeaderPrefix, trl)
}

// setChallenge gives an UNAUTHENTICATED answer the WWW-Authenticate header
// HTTP requires of a 401, as grpc-gateway does: the status message, unless
// a policy or the upstream set the header itself (www-authenticate
// metadata) or the message cannot be a header value.
func setChallenge(h http.Header, st *status.Status) {
	if st.Code() != codes.Unauthenticated || h.Get("WWW-Authenticate") != "" {
		return
	}
	if msg := st.Message(); httpguts.ValidHeaderFieldValue(msg) {
		h.Set("WWW-Authenticate", msg)
	}
}

// writeUnary writes a unary call's response: the whole message, its
// response_body field, or a google.api.HttpBody's raw bytes.
func (c *call) writeUnary(s *protocol.Stream, data []byte, code int) {
	// The JSON is built in a recycled buffer: Write copies it out.
	bp := c.h.getBuffer()
	body, contentType, err := c.encode(data, *bp)
	defer c.releaseEncoded(bp, body)
	if err != nil {
		c.writeError(s, err)
		return
	}
	h := c.w.Header()
	hdr, _ := s.Headers()
	c.setMetadataHeaders(h, metadataHeaderPrefix, hdr)
	h.Set("Content-Type", contentType)
	trailers := requestsTrailers(c.r)
	var trl metadata.MD
	if trailers {
		trl = s.Trailers()
		c.declareTrailers(h, trl)
	} else {
		h.Set("Content-Length", strconv.Itoa(len(body)))
	}
	c.w.WriteHeader(code)
	_, _ = c.w.Write(body)
	if trailers {
		c.setMetadataHeaders(h, trailerHeaderPrefix, trl)
	}
}

// encode decodes one response message in wire format and encodes what the
// binding says goes to the client. JSON is appended to buf; a raw
// google.api.HttpBody response is the message's own bytes.
func (c *call) encode(data, buf []byte) (body []byte, contentType string, err error) {
	b := c.b
	if !b.rawResponse && c.fast != nil && len(b.respParents) == 0 {
		// The fast path prints straight from the wire bytes. Whatever it
		// does not print exactly as protojson would (Any, invalid data,
		// values protojson refuses) takes the path below, which also
		// words the errors.
		if b.respField == nil {
			body, err = c.fast.enc.AppendMessage(buf[:0], data, b.out.Descriptor())
		} else {
			body, err = c.fast.enc.AppendField(buf[:0], data, b.out.Descriptor(), b.respField)
		}
		if err == nil {
			return body, contentTypeJSON, nil
		}
	}
	m := b.out.New()
	if err := unmarshalResponse(data, m, c.unmarshal.Resolver); err != nil {
		return nil, "", status.Errorf(codes.Internal, "decode %s response: %v", b.out.Descriptor().FullName(), err)
	}
	// A nested response_body field is read through its parents (unset
	// ones read as empty messages).
	for _, fd := range b.respParents {
		m = m.Get(fd).Message()
	}
	if b.rawResponse {
		hb := m
		if b.respField != nil {
			hb = m.Get(b.respField).Message()
		}
		ct, raw := httpBodyParts(hb)
		if ct == "" {
			ct = "application/octet-stream"
		}
		return raw, ct, nil
	}
	switch fd := b.respField; {
	case fd == nil:
		body, err = c.marshal.MarshalAppend(buf[:0], m.Interface())
	case fd.Message() != nil && !fd.IsList() && !fd.IsMap():
		body, err = c.marshal.MarshalAppend(buf[:0], m.Get(fd).Message().Interface())
	default:
		var field []byte
		if field, err = c.marshalField(m, fd); err == nil {
			body = append(buf[:0], field...)
		}
	}
	if err != nil {
		return nil, "", status.Errorf(codes.Internal, "encode %s response as JSON: %v", b.out.Descriptor().FullName(), err)
	}
	return body, contentTypeJSON, nil
}

// unmarshalResponse decodes an upstream's response into m. The upstream
// is not trusted to send well-formed data, and dynamicpb panics on some
// malformed map entries (a key repeated with another wire type) where
// generated types return an error: the panic becomes an error too.
func unmarshalResponse(data []byte, m protoreflect.Message, resolver typeResolver) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("malformed message: %v", p)
		}
	}()
	return proto.UnmarshalOptions{Resolver: resolver}.Unmarshal(data, m.Interface())
}

// releaseEncoded recycles the buffer bp that encode's body came from.
func (c *call) releaseEncoded(bp *[]byte, body []byte) {
	if c.b.rawResponse || body == nil {
		body = *bp
	}
	c.h.putBuffer(bp, body)
}

// marshalField encodes one field's value as JSON: a message field as that
// message, any other field through a message holding only it.
func (c *call) marshalField(m protoreflect.Message, fd protoreflect.FieldDescriptor) ([]byte, error) {
	if fd.Message() != nil && !fd.IsList() && !fd.IsMap() {
		return c.marshal.Marshal(m.Get(fd).Message().Interface())
	}
	only := m.New()
	if m.Has(fd) {
		only.Set(fd, m.Get(fd))
	}
	opts := c.marshal
	opts.EmitUnpopulated = true
	whole, err := opts.Marshal(only.Interface())
	if err != nil {
		return nil, err
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(whole, &obj); err != nil {
		return nil, err
	}
	name := fd.JSONName()
	if opts.UseProtoNames {
		name = string(fd.Name())
	}
	return obj[name], nil
}

func httpBodyParts(m protoreflect.Message) (contentType string, data []byte) {
	fields := m.Descriptor().Fields()
	if fd := fields.ByName("content_type"); fd != nil {
		contentType = m.Get(fd).String()
	}
	if fd := fields.ByName("data"); fd != nil {
		data = m.Get(fd).Bytes()
	}
	return contentType, data
}

// errNoResponse is a unary call that ended OK without a message, which a
// gRPC client would call a protocol violation too.
var errNoResponse = errors.New("upstream ended a unary call without a response message")
