package transcoding

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/coder/websocket"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/sluice-dev/sluice/protocol"
	"github.com/sluice-dev/sluice/transcoding/httprule"
)

// WebSocket serves the REST bindings of streaming methods to clients that
// cannot stream a request body (browsers' fetch cannot): a WebSocket
// handshake on the path of a streaming method's binding, whatever the
// binding's verb, opens the call. The call then takes the same road as
// every other: a grpc.ServerStream handed to the Dispatcher, so every
// policy applies, keyed on the gRPC method; observers see the protocol
// protocol.WebSocket.
//
// On the wire:
//
//   - By default (or with the subprotocol "sluice.json") each text message
//     is one JSON request message, built as a message of a streamed REST
//     body is (path and query bind the same fields in every message), and
//     each response message is one text message of JSON.
//   - With the subprotocol "sluice.proto", request and response messages
//     are binary messages of protobuf wire format.
//   - An empty text message ends the client's side of the stream (its
//     half-close); the server's responses may go on.
//   - The call ends with a text message holding its google.rpc.Status as
//     JSON, then a close frame: 1000 for OK, 4000 plus the gRPC code
//     otherwise (4005 is NOT_FOUND), with the status message, cut to what
//     a close frame holds, as its reason. A request message larger than
//     the body limit (WithMaxBodyBytes) closes with 1009.
//   - A call refused before it started (by a policy, or an unavailable
//     upstream) is refused in the handshake, with the HTTP status and
//     google.rpc.Status body a REST call would get.
//
// Server-streaming methods get their request from the path and query, or,
// when their binding has a body, from the first message. Response headers
// and trailers of the upstream are not passed on: a WebSocket has no place
// for them after the handshake.
//
// Backpressure is the proxy's: the next WebSocket message is read only
// when the upstream took the previous one, and a response is written only
// when the client's TCP window takes it, so a call holds at most one
// message each way. Ping frames every WithWebSocketPingInterval keep
// intermediaries from closing a quiet connection; a client that does not
// answer one while the gateway waits for its next message is gone, and its
// call is cancelled. A client closing the connection cancels the call.
//
// Browsers cannot set headers on a WebSocket handshake; a page's bearer
// token can come, when WithWebSocketTokens allows it, as the subprotocol
// "sluice.bearer.<token>" (offered next to "sluice.json" or
// "sluice.proto", one of which the gateway selects) or as the query
// parameter access_token. Both are off by default: URLs end up in logs.
// Browsers do not apply CORS to WebSocket either, so the handshake's
// Origin is checked here (WithWebSocketOrigins; by default only the
// gateway's own host).

// WebSocket subprotocols.
const (
	wsProtoJSON   = "sluice.json"
	wsProtoBinary = "sluice.proto"
	wsProtoBearer = "sluice.bearer."
	wsTokenQuery  = "access_token"
)

// DefaultWebSocketPingInterval is how often a WebSocket is pinged unless
// WithWebSocketPingInterval says otherwise.
const DefaultWebSocketPingInterval = 30 * time.Second

// WithWebSocket turns WebSocket calls of streaming methods on (the default)
// or off (a handshake is then served as any other GET).
func WithWebSocket(on bool) Option {
	return optionFunc(func(c *config) { c.ws.off = !on })
}

// WithWebSocketOrigins decides which Origin a WebSocket handshake may come
// from (browsers send one; other clients usually do not, and are not
// checked). A refused origin gets 403 before anything else happens. nil
// restores the default: the origin's host must be the request's Host.
func WithWebSocketOrigins(allow func(origin string) bool) Option {
	return optionFunc(func(c *config) { c.ws.origins = allow })
}

// WithWebSocketTokens lets browsers, which cannot set an Authorization
// header on a WebSocket handshake, send a bearer token as the subprotocol
// "sluice.bearer.<token>" (subprotocol) and/or as the access_token query
// parameter (query). The token becomes "authorization: Bearer <token>"
// metadata when the request has no Authorization header. Both are off by
// default: a query parameter lands in access logs, and a subprotocol in
// some proxies' logs.
func WithWebSocketTokens(subprotocol, query bool) Option {
	return optionFunc(func(c *config) { c.ws.tokenProto, c.ws.tokenQuery = subprotocol, query })
}

// WithWebSocketPingInterval sets how often a WebSocket call pings its
// client (default DefaultWebSocketPingInterval); 0 sends no pings.
func WithWebSocketPingInterval(d time.Duration) Option {
	return optionFunc(func(c *config) {
		if d < 0 {
			c.errs = append(c.errs, errors.New("WebSocket ping interval must not be negative"))
			return
		}
		c.ws.ping = d
	})
}

// wsConfig is the WebSocket part of config.
type wsConfig struct {
	off        bool
	origins    func(origin string) bool
	tokenProto bool
	tokenQuery bool
	ping       time.Duration
}

// isWebSocket reports whether r is a WebSocket handshake.
func isWebSocket(r *http.Request) bool {
	return r.Method == http.MethodGet && headerHasToken(r.Header, "Connection", "upgrade") &&
		headerHasToken(r.Header, "Upgrade", "websocket")
}

func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// matchWebSocket finds the streaming binding a handshake on path opens:
// the GET binding if it streams, else a binding of another verb on the
// same path that does.
func matchWebSocket(router *httprule.Router, path string) (httprule.Match, *binding, bool) {
	m, res := router.Match(http.MethodGet, path)
	verbs := []string{}
	switch res {
	case httprule.Found:
		if b, _ := m.Route.Value.(*binding); b != nil && (b.method.ClientStreaming() || b.method.ServerStreaming()) {
			return m, b, true
		}
	case httprule.MethodNotAllowed:
		verbs = m.Allow
	}
	var fallback *binding
	var fm httprule.Match
	for _, v := range verbs {
		vm, res := router.Match(v, path)
		if res != httprule.Found {
			continue
		}
		b, _ := vm.Route.Value.(*binding)
		if b == nil {
			continue
		}
		if b.method.ClientStreaming() {
			return vm, b, true
		}
		if b.method.ServerStreaming() && fallback == nil {
			fallback, fm = b, vm
		}
	}
	return fm, fallback, fallback != nil
}

// sameHost is the default origin check: the origin's host is the
// request's.
func sameHost(r *http.Request, origin string) bool {
	u, err := url.Parse(origin)
	return err == nil && strings.EqualFold(u.Host, r.Host)
}

// serveWebSocket runs one WebSocket call of the binding c.b.
func (h *REST) serveWebSocket(c *call, vars []httprule.Var) {
	r := c.r
	if origin := r.Header.Get("Origin"); origin != "" {
		ok := sameHost(r, origin)
		if h.cfg.ws.origins != nil {
			ok = h.cfg.ws.origins(origin)
		}
		if !ok {
			c.fail(withHTTPStatus(status.Newf(codes.PermissionDenied, "origin %q may not open WebSocket calls", origin), http.StatusForbidden))
			return
		}
	}
	// The request is copied before the token, if any, moves into its
	// headers and out of its query.
	rr := *r
	rr.Header = r.Header.Clone()
	u := *r.URL
	rr.URL = &u
	format, token := "", ""
	for _, v := range r.Header.Values("Sec-WebSocket-Protocol") {
		for _, p := range strings.Split(v, ",") {
			p = strings.TrimSpace(p)
			switch {
			case p == wsProtoJSON || p == wsProtoBinary:
				if format == "" {
					format = p
				}
			case strings.HasPrefix(p, wsProtoBearer) && h.cfg.ws.tokenProto:
				token = strings.TrimPrefix(p, wsProtoBearer)
			}
		}
	}
	if h.cfg.ws.tokenQuery && rr.URL.RawQuery != "" {
		q, err := url.ParseQuery(rr.URL.RawQuery)
		if err == nil && q.Has(wsTokenQuery) {
			if token == "" {
				token = q.Get(wsTokenQuery)
			}
			q.Del(wsTokenQuery)
			rr.URL.RawQuery = q.Encode()
		}
	}
	if token != "" && rr.Header.Get("Authorization") == "" {
		rr.Header.Set("Authorization", "Bearer "+token)
	}
	c.r = &rr
	binary := format == wsProtoBinary
	if binary && c.b.body == bodyNone && c.b.method.ClientStreaming() {
		c.fail(status.Error(codes.InvalidArgument, "the binding takes no body: its messages cannot be sent"))
		return
	}

	ctx, cancel, err := h.callContext(c.r)
	if err != nil {
		c.fail(err)
		return
	}
	defer cancel()
	ctx, cancelCall := context.WithCancelCause(protocol.NewContext(ctx, protocol.WebSocket))
	defer cancelCall(nil)
	ws := &wsCall{h: h, c: c, vars: vars, format: format, binary: binary, cancel: cancelCall, stop: make(chan struct{})}
	ctx = protocol.WithEnd(ctx, ws.end)
	ws.ctx = ctx
	s := protocol.NewStream(ctx, protocol.WebSocket, c.b.method.Path)
	s.Next = ws.next
	s.NextReportsEnd = true // readError words the end of the call
	s.Header = func(metadata.MD, bool) {}
	s.Message = ws.send
	err = h.d.Dispatch(s, c.b.method.Path, c.b.method.ClientStreaming(), c.b.method.ServerStreaming())
	ws.finish(s, err)
}

// wsCall is one WebSocket call. The connection is accepted lazily, when
// the proxy first reads or writes a message: a call the policies or the
// upstream refuse is refused in the handshake.
type wsCall struct {
	h      *REST
	c      *call
	ctx    context.Context
	vars   []httprule.Var
	format string // the subprotocol selected; "" for none
	binary bool
	cancel context.CancelCauseFunc
	stop   chan struct{} // closed by finish: the helpers stop

	mu        sync.Mutex
	conn      *websocket.Conn // nil until accepted; guarded by mu
	acceptErr error           // guarded by mu
	ended     bool            // the call was ended (end); guarded by mu
	reading   bool            // a read of the client's next message is in flight; guarded by mu
	helpers   sync.WaitGroup

	// Only the receiving goroutine touches these.
	recvd    int   // request messages returned
	halfDone bool  // the client ended its side
	held     int64 // bytes reserved in the budget
}

// accept completes the handshake, once.
func (ws *wsCall) accept() (*websocket.Conn, error) {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	if ws.conn != nil || ws.acceptErr != nil {
		return ws.conn, ws.acceptErr
	}
	if ws.ended {
		ws.acceptErr = status.Error(codes.Canceled, "the call ended before the WebSocket opened")
		return nil, ws.acceptErr
	}
	opts := &websocket.AcceptOptions{InsecureSkipVerify: true, CompressionMode: websocket.CompressionDisabled}
	if ws.format != "" {
		opts.Subprotocols = []string{ws.format}
	}
	conn, err := websocket.Accept(ws.c.w, ws.c.r, opts)
	if err != nil {
		// Accept answered the client itself.
		ws.acceptErr = status.Errorf(codes.Canceled, "WebSocket handshake: %v", err)
		return nil, ws.acceptErr
	}
	conn.SetReadLimit(ws.h.cfg.maxBody)
	ws.conn = conn
	if ws.h.cfg.ws.ping > 0 {
		ws.helpers.Add(1)
		go ws.keepalive(conn)
	}
	return conn, nil
}

// end is the call's protocol.WithEnd: a policy ended the call, so every
// read and write on the connection must return.
func (ws *wsCall) end(cause error) {
	ws.mu.Lock()
	ws.ended = true
	conn := ws.conn
	ws.mu.Unlock()
	ws.cancel(cause)
	if conn != nil {
		_ = conn.CloseNow()
	}
}

// keepalive pings the client while the call lasts. A ping unanswered for
// an interval while the gateway was reading the client's next message
// (only then are pongs read) means the client is gone.
func (ws *wsCall) keepalive(conn *websocket.Conn) {
	defer ws.helpers.Done()
	d := ws.h.cfg.ws.ping
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-ws.stop:
			return
		case <-ws.ctx.Done():
			return
		case <-t.C:
		}
		ws.mu.Lock()
		before := ws.reading
		ws.mu.Unlock()
		ctx, cancel := context.WithTimeout(ws.ctx, d)
		err := conn.Ping(ctx)
		cancel()
		ws.mu.Lock()
		after := ws.reading
		ws.mu.Unlock()
		if err != nil && before && after && ws.ctx.Err() == nil {
			ws.cancel(status.Error(codes.Unavailable, "the WebSocket client did not answer a ping"))
			_ = conn.CloseNow()
			return
		}
	}
}

// next yields the call's next request message (the stream's Next).
func (ws *wsCall) next() ([]byte, error) {
	b := ws.c.b
	ws.release()
	if !b.method.ClientStreaming() {
		if ws.recvd > 0 {
			return nil, io.EOF
		}
		ws.recvd++
		if b.body == bodyNone {
			// The request is the path and the query. The connection opens
			// now, the policies having accepted the call: a watch may not
			// answer for a long time.
			msg, err := ws.h.buildMessage(ws.c, ws.vars, nil, "")
			if err != nil {
				return nil, err
			}
			if _, err := ws.accept(); err != nil {
				return nil, err
			}
			ws.startDrain()
			return msg, nil
		}
		msg, err := ws.read()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil, status.Error(codes.InvalidArgument, "the client ended its stream before sending the request")
			}
			return nil, err
		}
		ws.startDrain()
		return msg, nil
	}
	if ws.halfDone {
		return nil, io.EOF
	}
	msg, err := ws.read()
	if err == nil {
		ws.recvd++
	}
	return msg, err
}

// read reads and builds the client's next message; io.EOF once the client
// ended its side.
func (ws *wsCall) read() ([]byte, error) {
	conn, err := ws.accept()
	if err != nil {
		return nil, err
	}
	ws.mu.Lock()
	ws.reading = true
	ws.mu.Unlock()
	typ, rd, err := conn.Reader(ws.ctx)
	var body []byte
	if err == nil {
		bp := ws.h.getBuffer()
		defer func() { ws.h.putBuffer(bp, body) }()
		body, err = readAll(rd, (*bp)[:0], ws.h.cfg.maxBody, ws.reserve)
	}
	ws.mu.Lock()
	ws.reading = false
	ws.mu.Unlock()
	if err != nil {
		return nil, ws.readError(err)
	}
	switch {
	case typ == websocket.MessageText && len(body) == 0:
		ws.halfDone = true
		ws.release()
		return nil, io.EOF
	case ws.binary && typ == websocket.MessageBinary:
		return ws.h.buildBinary(ws.c, ws.vars, body)
	case !ws.binary && typ == websocket.MessageText:
		return ws.h.buildMessage(ws.c, ws.vars, body, "")
	case ws.binary:
		return nil, status.Error(codes.InvalidArgument, `a text message other than the empty one (the end of the stream) was sent on a "sluice.proto" WebSocket`)
	}
	return nil, status.Error(codes.InvalidArgument, `a binary message was sent on a JSON WebSocket: ask for the "sluice.proto" subprotocol to send protobuf`)
}

// reserve takes size bytes of the gateway's buffered-bytes budget for the
// message being read.
func (ws *wsCall) reserve(size int64) bool {
	if size <= ws.held {
		return true
	}
	if !ws.h.budget.reserve(size - ws.held) {
		return false
	}
	ws.held = size
	return true
}

func (ws *wsCall) release() {
	ws.h.budget.release(ws.held)
	ws.held = 0
}

// readError words a failed read of the client's next message.
func (ws *wsCall) readError(err error) error {
	ws.release()
	if cause := context.Cause(ws.ctx); cause != nil {
		if _, ok := status.FromError(cause); ok {
			return cause
		}
		return status.FromContextError(ws.ctx.Err()).Err()
	}
	switch {
	case errors.Is(err, errBudgetFull):
		return errBudget(ws.h.budget.limit)
	case errors.Is(err, errTooLong), websocket.CloseStatus(err) == websocket.StatusMessageTooBig || strings.Contains(err.Error(), "read limited at"):
		return withHTTPStatus(status.Newf(codes.ResourceExhausted,
			"a request message is larger than the limit of %d bytes", ws.h.cfg.maxBody), http.StatusRequestEntityTooLarge)
	}
	err = status.Errorf(codes.Canceled, "the WebSocket client went away: %v", err)
	ws.cancel(err)
	return err
}

// startDrain reads the client's side of a server stream after its request
// message: nothing more is expected but the end (an empty text message)
// and control frames, and the client closing cancels the call.
func (ws *wsCall) startDrain() {
	ws.mu.Lock()
	conn := ws.conn
	ws.mu.Unlock()
	if conn == nil {
		return
	}
	ws.helpers.Add(1)
	go func() {
		defer ws.helpers.Done()
		ws.drain(conn)
	}()
}

func (ws *wsCall) drain(conn *websocket.Conn) {
	for {
		ws.mu.Lock()
		ws.reading = true
		ws.mu.Unlock()
		typ, data, err := conn.Read(ws.ctx)
		if err != nil {
			select {
			case <-ws.stop:
			default:
				ws.cancel(status.Errorf(codes.Canceled, "the WebSocket client went away: %v", err))
			}
			return
		}
		if typ != websocket.MessageText || len(data) != 0 {
			ws.cancel(status.Error(codes.InvalidArgument, "the method takes one request message; the client sent more"))
			return
		}
	}
}

// send writes one response message (the stream's Message).
func (ws *wsCall) send(data []byte) error {
	conn, err := ws.accept()
	if err != nil {
		return err
	}
	if ws.binary || ws.c.b.rawResponse {
		if err := conn.Write(ws.ctx, websocket.MessageBinary, data); err != nil {
			return ws.writeError(err)
		}
		return nil
	}
	bp := ws.h.getBuffer()
	body, _, err := ws.c.encode(data, *bp)
	defer ws.c.releaseEncoded(bp, body)
	if err != nil {
		return err
	}
	if err := conn.Write(ws.ctx, websocket.MessageText, body); err != nil {
		return ws.writeError(err)
	}
	return nil
}

func (ws *wsCall) writeError(err error) error {
	if cause := context.Cause(ws.ctx); cause != nil {
		if _, ok := status.FromError(cause); ok {
			return cause
		}
		return status.FromContextError(ws.ctx.Err()).Err()
	}
	return status.Errorf(codes.Canceled, "write WebSocket message: %v", err)
}

// finish ends the call: an HTTP error when the connection never opened,
// otherwise the status message and the close frame.
//
// The proxy's request pump may still be reading the client's next message
// (the upstream ended first): the close handshake ends that read, and
// finish waits for it before the budget is settled.
func (ws *wsCall) finish(s *protocol.Stream, err error) {
	defer func() {
		close(ws.stop)
		ws.mu.Lock()
		ws.ended = true
		conn := ws.conn
		ws.mu.Unlock()
		if conn != nil {
			_ = conn.CloseNow()
		}
		// The close above ended a read in flight; wait for it.
		s.StopReceiving(nil)
		ws.helpers.Wait()
		ws.release()
	}()
	err = cutCause(ws.c.r.Context(), err)
	ws.mu.Lock()
	opened, failed := ws.conn != nil, ws.acceptErr != nil
	if !opened && err != nil {
		// No handshake may start from now on: the answer is HTTP.
		ws.ended = true
	}
	ws.mu.Unlock()
	if !opened && err != nil {
		if !failed {
			ws.c.fail(err)
		}
		return
	}
	conn, aerr := ws.accept()
	if aerr != nil {
		return
	}
	st, _ := httpStatusOf(err)
	if ce := (websocket.CloseError{}); errors.As(err, &ce) {
		st = status.New(codes.Canceled, "the WebSocket client closed the connection")
	}
	// The final status goes out even when the call's context is done (a
	// deadline), bounded on its own.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ws.ctx), 5*time.Second)
	defer cancel()
	if conn.Write(ctx, websocket.MessageText, ws.c.errs.JSON(st)) != nil {
		return
	}
	code := websocket.StatusNormalClosure
	var hs *httpStatusError
	switch {
	case st.Code() == codes.OK:
	case errors.As(err, &hs) && hs.httpStatus == http.StatusRequestEntityTooLarge:
		code = websocket.StatusMessageTooBig
	default:
		code = websocket.StatusCode(4000 + int(st.Code()))
	}
	_ = conn.Close(code, closeReason(st.Message()))
}

// closeReason cuts msg to what a close frame's reason holds (123 bytes),
// on a UTF-8 boundary.
func closeReason(msg string) string {
	const max = 123
	if len(msg) <= max {
		return msg
	}
	i := max
	for i > 0 && !utf8.RuneStart(msg[i]) {
		i--
	}
	return msg[:i]
}
