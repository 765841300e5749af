package frontdoor

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// side is where a classified connection goes.
type side int

const (
	sideHTTP side = iota // http.Server.Serve: HTTP/1.x or HTTP/2
	sideGRPC             // grpc.Server.Serve
)

const (
	// maxSniffFrame is the largest frame a client may send before it has
	// seen any of our settings: SETTINGS_MAX_FRAME_SIZE's initial value.
	maxSniffFrame = 16 << 10
	// maxSniffBytes bounds what one connection can make the door buffer
	// while classifying it: the first request's header block and anything
	// sent alongside must fit.
	maxSniffBytes = 64<<10 + 9 + maxSniffFrame
	// initialHeaderTableSize is SETTINGS_HEADER_TABLE_SIZE's initial value;
	// our empty SETTINGS leaves it in force for the first header block.
	initialHeaderTableSize = 4096
)

var (
	errNoPreface     = errors.New("frontdoor: no HTTP/2 client preface")
	errTooLong       = errors.New("frontdoor: too many bytes before the first request")
	errBadFirstFrame = errors.New("frontdoor: first HTTP/2 frame is not SETTINGS")
)

// classify runs the TLS handshake, if any, and the sniff on a fresh
// connection, all before the sniff deadline. It returns the connection to
// hand on (with any consumed bytes replayed) and its side.
func (d *Door) classify(raw *trackedConn) (net.Conn, side, error) {
	if err := raw.SetDeadline(time.Now().Add(d.cfg.sniffTimeout)); err != nil {
		return nil, 0, err
	}
	if d.tls != nil {
		tc := tls.Server(raw, d.tls)
		if err := tc.Handshake(); err != nil {
			return nil, 0, fmt.Errorf("tls handshake: %w", err)
		}
		if tc.ConnectionState().NegotiatedProtocol != http2.NextProtoTLS {
			// Handed on as is, so that net/http sees a *tls.Conn and sets r.TLS.
			return tc, sideHTTP, nil
		}
		prefix := make([]byte, len(http2.ClientPreface))
		if _, err := io.ReadFull(tc, prefix); err != nil {
			return nil, 0, err
		}
		if string(prefix) != http2.ClientPreface {
			return nil, 0, errNoPreface
		}
		if tc.ConnectionState().Version < tls.VersionTLS12 {
			return nil, 0, errors.New("frontdoor: HTTP/2 over TLS older than 1.2") // RFC 9113 section 9.2
		}
		s, replay, err := sniffHTTP2(tc, prefix)
		if err != nil {
			return nil, 0, err
		}
		rc := newReplayConn(tc, replay)
		if s == sideGRPC {
			return &grpcTLSConn{replayConn: rc, tls: tc}, s, nil
		}
		return &h2TLSConn{replayConn: rc, tls: tc}, s, nil
	}
	prefix, isH2, err := peekPreface(raw)
	if err != nil {
		return nil, 0, err
	}
	if !isH2 {
		return newReplayConn(raw, prefix), sideHTTP, nil
	}
	s, replay, err := sniffHTTP2(raw, prefix)
	if err != nil {
		return nil, 0, err
	}
	return newReplayConn(raw, replay), s, nil
}

// peekPreface reads until the bytes either diverge from the HTTP/2 client
// preface or complete it. It never waits for more once they diverge: an
// HTTP/1 request can be shorter than the preface.
func peekPreface(r io.Reader) ([]byte, bool, error) {
	buf := make([]byte, len(http2.ClientPreface))
	n := 0
	for n < len(buf) {
		m, err := r.Read(buf[n:])
		n += m
		if !strings.HasPrefix(http2.ClientPreface, string(buf[:n])) {
			return buf[:n], false, nil
		}
		if err != nil && n < len(buf) {
			return nil, false, err
		}
	}
	return buf, true, nil
}

// sniffHTTP2 classifies an HTTP/2 connection whose client preface (prefix)
// was already read. It sends an empty SETTINGS frame, because grpc-go and
// grpc-java clients wait for the server's settings before they send a
// request, then reads frames until it has both the first request's complete
// header block and the client's acknowledgement of our SETTINGS. It returns
// every byte read except that acknowledgement (the real server never sent
// those settings and must not see their ACK).
func sniffHTTP2(rw io.ReadWriter, prefix []byte) (side, []byte, error) {
	rec := &recorder{r: rw, buf: append(make([]byte, 0, 1024), prefix...), limit: maxSniffBytes}
	fr := http2.NewFramer(rw, rec)
	fr.SetMaxReadFrameSize(maxSniffFrame)
	if err := fr.WriteSettings(); err != nil {
		return 0, nil, err
	}

	var (
		block               []byte
		sawSettings         bool
		started, headersEnd bool
		acked               bool
	)
	for !headersEnd || !acked {
		mark := len(rec.buf)
		f, err := fr.ReadFrame()
		if err != nil {
			return 0, nil, err
		}
		if !sawSettings {
			// RFC 9113 section 3.4: the preface is followed by SETTINGS.
			if sf, ok := f.(*http2.SettingsFrame); !ok || sf.IsAck() {
				return 0, nil, errBadFirstFrame
			}
			sawSettings = true
			continue
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if f.IsAck() && !acked {
				acked = true
				rec.buf = rec.buf[:mark]
			}
		case *http2.HeadersFrame:
			if !started {
				started = true
				block = append(block, f.HeaderBlockFragment()...)
				headersEnd = f.HeadersEnded()
			}
		case *http2.ContinuationFrame:
			// The framer rejects a CONTINUATION that does not follow an
			// unfinished block on the same stream.
			if !headersEnd {
				block = append(block, f.HeaderBlockFragment()...)
				headersEnd = f.HeadersEnded()
			}
		case *http2.GoAwayFrame, *http2.RSTStreamFrame, *http2.DataFrame, *http2.PushPromiseFrame:
			if !started {
				return 0, nil, fmt.Errorf("frontdoor: %v frame before the first request", f.Header().Type)
			}
		}
	}
	isGRPC, err := firstRequestIsGRPC(block)
	if err != nil {
		return 0, nil, err
	}
	if isGRPC {
		return sideGRPC, rec.buf, nil
	}
	return sideHTTP, rec.buf, nil
}

// firstRequestIsGRPC decodes the first header block of a connection. A
// fresh decoder is exact for it: the block starts from an empty dynamic
// table.
func firstRequestIsGRPC(block []byte) (bool, error) {
	var (
		contentType string
		n           int
	)
	dec := hpack.NewDecoder(initialHeaderTableSize, func(f hpack.HeaderField) {
		if f.Name == "content-type" {
			contentType = f.Value
			n++
		}
	})
	if _, err := dec.Write(block); err != nil {
		return false, fmt.Errorf("frontdoor: decode first header block: %w", err)
	}
	if err := dec.Close(); err != nil {
		return false, fmt.Errorf("frontdoor: decode first header block: %w", err)
	}
	return n == 1 && IsGRPCContentType(contentType), nil
}

// IsGRPCContentType reports whether ct is native gRPC's content type, as
// grpc-go's server accepts it (case-sensitive): "application/grpc",
// "application/grpc+..." or "application/grpc;...". gRPC-Web's
// "application/grpc-web..." does not match. The door classifies
// connections by it, and the gateway its HTTP side's requests.
func IsGRPCContentType(ct string) bool {
	const base = "application/grpc"
	if !strings.HasPrefix(ct, base) {
		return false
	}
	if len(ct) == len(base) {
		return true
	}
	return ct[len(base)] == '+' || ct[len(base)] == ';'
}

// recorder keeps every byte read through it, up to limit in total.
type recorder struct {
	r     io.Reader
	buf   []byte
	read  int
	limit int
}

func (r *recorder) Read(p []byte) (int, error) {
	if r.read >= r.limit {
		return 0, errTooLong
	}
	if len(p) > r.limit-r.read {
		p = p[:r.limit-r.read]
	}
	n, err := r.r.Read(p)
	r.read += n
	r.buf = append(r.buf, p[:n]...)
	return n, err
}
