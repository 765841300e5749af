package e2e_test

import (
	"encoding/binary"
	"fmt"
	"strings"
	"testing"

	"golang.org/x/net/http2"
	"google.golang.org/protobuf/proto"

	"github.com/sluice-dev/sluice/demo"
	libraryv1 "github.com/sluice-dev/sluice/gen/go/sluice/demo/library/v1"
	"github.com/sluice-dev/sluice/internal/gatewaytest"
)

// Floods and malformed frames over raw HTTP/2 connections, in each state
// a connection can be in: before the front door has classified it (no
// request yet), once it went to the gRPC server (first request gRPC), and
// once it went to the HTTP server (first request REST).

// connStates are the states an attack starts from.
var connStates = []string{"unclassified", "grpc", "rest"}

// prepare brings h into state by making one complete, successful call.
func (g *abuseGateway) prepare(t *testing.T, h *h2Conn, state string) {
	t.Helper()
	var id uint32
	var err error
	switch state {
	case "unclassified":
		return
	case "grpc":
		id, err = h.open(false, grpcHeaders(g.addr, svcPrefix+"GetShelf")...)
		if err == nil {
			msg, _ := proto.Marshal(&libraryv1.GetShelfRequest{Name: demo.SeedShelfClassics})
			err = h.data(id, grpcMessage(false, msg), true)
		}
	case "rest":
		id, err = h.open(true, restHeaders(g.addr, "GET", "/v1/"+demo.SeedShelfClassics)...)
	}
	if err != nil {
		t.Fatalf("%s: first request: %v", state, err)
	}
	r, ok := h.wait(id)
	if !ok {
		t.Fatalf("%s: first request unanswered", state)
	}
	if (state == "grpc" && r.grpcStatus != "0") || (state == "rest" && r.status != "200") {
		t.Fatalf("%s: first request: %v", state, r)
	}
}

// rawFrame returns a frame header announcing length bytes, then payload.
func rawFrame(length int, typ http2.FrameType, flags http2.Flags, stream uint32, payload []byte) []byte {
	b := []byte{byte(length >> 16), byte(length >> 8), byte(length), byte(typ), byte(flags), 0, 0, 0, 0}
	binary.BigEndian.PutUint32(b[5:], stream&(1<<31-1))
	return append(b, payload...)
}

// raw writes b as it is. Write errors mean the server already closed the
// connection, which the caller checks for itself.
func (h *h2Conn) raw(b []byte) {
	_ = h.write(func() error { _, err := h.c.Write(b); return err })
}

// junkFields is a header block fragment of literal fields without
// indexing, size bytes or a little more, that no decoder can shrink.
func junkFields(h *h2Conn, n, size int) []byte {
	var kv []string
	for i := 0; i*40 < size; i++ {
		kv = append(kv, fmt.Sprintf("x-junk-%d-%d", n, i), strings.Repeat("j", 24))
	}
	return h.block(kv...)
}

// TestAbuseH2Floods sends CONTINUATION, SETTINGS and PING floods over
// connections in every state, and checks that the gateway's heap stays
// bounded, that the flooded connection is closed or its stream refused
// (CONTINUATION), and that a normal call succeeds afterwards.
func TestAbuseH2Floods(t *testing.T) {
	gatewaytest.CheckLeaks(t)
	g := startAbuseGateway(t, abuseOptions{})
	frames := abuseCount(2000, 50000)

	for _, state := range connStates {
		t.Run("CONTINUATION/"+state, func(t *testing.T) {
			before := heapInuse()
			h := dialH2(t, g.addr)
			g.prepare(t, h, state)
			var hdr []string
			if state == "rest" {
				hdr = restHeaders(g.addr, "GET", "/v1/"+demo.SeedShelfClassics)
			} else {
				hdr = grpcHeaders(g.addr, svcPrefix+"GetShelf")
			}
			first := h.block(hdr...)
			var id uint32
			_ = h.write(func() error {
				id = h.next
				h.next += 2
				return h.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: first, EndStream: true})
			})
			for i := 0; i < frames && !h.isClosed(); i++ {
				frag := junkFields(h, i, 8<<10)
				last := i == frames-1
				if err := h.write(func() error { return h.fr.WriteContinuation(id, last, frag) }); err != nil {
					break
				}
			}
			if closed := h.isClosed(); !closed {
				r, ok := h.wait(id)
				switch {
				case !ok:
					t.Fatalf("a header block of %d CONTINUATION frames (%d MiB) neither closed the connection nor ended the stream", frames, frames*8>>10)
				case r.grpcStatus == "0" || r.status == "200":
					t.Errorf("a %d MiB header block was served: %v", frames*8>>10, r)
				}
				t.Logf("stream ended: %v", r)
			} else {
				_, ga := h.waitClosed()
				t.Logf("connection closed (GOAWAY %v)", ga)
			}
			checkHeapGrowth(t, "CONTINUATION flood", before, 64<<20)
			g.healthy(t)
		})
	}

	for _, flood := range []string{"SETTINGS", "PING"} {
		for _, state := range connStates {
			t.Run(flood+"/"+state, func(t *testing.T) {
				before := heapInuse()
				h := dialH2(t, g.addr)
				g.prepare(t, h, state)
				sent := 0
				for ; sent < frames*5 && !h.isClosed(); sent++ {
					var err error
					if flood == "SETTINGS" {
						err = h.write(func() error {
							return h.fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: uint32(65535 + sent%2)},
								http2.Setting{ID: http2.SettingHeaderTableSize, Val: 4096})
						})
					} else {
						err = h.write(func() error { return h.fr.WritePing(false, [8]byte{byte(sent), byte(sent >> 8)}) })
					}
					if err != nil {
						break
					}
				}
				h.mu.Lock()
				got := h.frames
				h.mu.Unlock()
				t.Logf("%d %s frames sent, %d frames received, connection closed: %v", sent, flood, got, h.isClosed())
				checkHeapGrowth(t, flood+" flood", before, 32<<20)
				g.healthy(t)
			})
		}
	}
}

// TestAbuseH2Malformed sends frames that break HTTP/2 (RFC 9113) on
// connections in every state and checks that the gateway closes the
// connection, and keeps serving; a frame of an unknown type must be
// ignored instead.
func TestAbuseH2Malformed(t *testing.T) {
	gatewaytest.CheckLeaks(t)
	g := startAbuseGateway(t, abuseOptions{})

	type attack struct {
		name  string
		bytes func(h *h2Conn) []byte
		// lenient says why the gRPC server (grpc-go's transport) may
		// keep the connection open despite RFC 9113; the gateway must
		// still serve.
		lenient string
	}
	big := make([]byte, 64<<10)
	attacks := []attack{
		{"DATA larger than SETTINGS_MAX_FRAME_SIZE", func(*h2Conn) []byte {
			// Above what either server advertises (16 KiB for gRPC, 1 MiB
			// for HTTP): the largest length a frame header can hold.
			return rawFrame(1<<24-1, http2.FrameData, 0, 1, big)
		}, ""},
		{"HEADERS larger than SETTINGS_MAX_FRAME_SIZE", func(h *h2Conn) []byte {
			blk := h.block(grpcHeaders(g.addr, svcPrefix+"GetShelf", "x-pad", strings.Repeat("p", 20<<10))...)
			return rawFrame(len(blk), http2.FrameHeaders, http2.FlagHeadersEndHeaders, 101, blk)
		}, ""},
		{"SETTINGS of 5 bytes", func(*h2Conn) []byte {
			return rawFrame(5, http2.FrameSettings, 0, 0, []byte{0, 4, 0, 0, 1})
		}, ""},
		{"PING of 7 bytes", func(*h2Conn) []byte {
			return rawFrame(7, http2.FramePing, 0, 0, make([]byte, 7))
		}, ""},
		{"WINDOW_UPDATE of 0", func(*h2Conn) []byte {
			return rawFrame(4, http2.FrameWindowUpdate, 0, 0, make([]byte, 4))
		}, ""},
		{"connection window overflow", func(*h2Conn) []byte {
			inc := []byte{0x7f, 0xff, 0xff, 0xff}
			return append(rawFrame(4, http2.FrameWindowUpdate, 0, 0, inc), rawFrame(4, http2.FrameWindowUpdate, 0, 0, inc)...)
		}, "grpc-go does not check the send window for overflow"},
		{"HEADERS on stream 0", func(h *h2Conn) []byte {
			blk := h.block(grpcHeaders(g.addr, svcPrefix+"GetShelf")...)
			return rawFrame(len(blk), http2.FrameHeaders, http2.FlagHeadersEndHeaders, 0, blk)
		}, ""},
		{"HEADERS on an even stream", func(h *h2Conn) []byte {
			blk := h.block(grpcHeaders(g.addr, svcPrefix+"GetShelf")...)
			return rawFrame(len(blk), http2.FrameHeaders, http2.FlagHeadersEndHeaders, 200, blk)
		}, ""},
		{"DATA on stream 0", func(*h2Conn) []byte {
			return rawFrame(4, http2.FrameData, 0, 0, make([]byte, 4))
		}, ""},
		{"DATA on an idle stream", func(*h2Conn) []byte {
			return rawFrame(4, http2.FrameData, 0, 301, make([]byte, 4))
		}, "grpc-go ignores DATA on streams it does not know"},
		{"CONTINUATION without HEADERS", func(h *h2Conn) []byte {
			blk := h.block("x-a", "b")
			return rawFrame(len(blk), http2.FrameContinuation, http2.FlagContinuationEndHeaders, 401, blk)
		}, ""},
		{"HPACK index out of the table", func(*h2Conn) []byte {
			blk := []byte{0xff, 0x80, 0x7f} // indexed field 254
			return rawFrame(len(blk), http2.FrameHeaders, http2.FlagHeadersEndHeaders, 501, blk)
		}, ""},
		{"garbage", func(*h2Conn) []byte {
			return []byte(strings.Repeat("\xde\xad\xbe\xef GET / HTTP/1.1\r\n", 64))
		}, ""},
	}
	for _, state := range connStates {
		for _, a := range attacks {
			t.Run(state+"/"+a.name, func(t *testing.T) {
				t.Parallel()
				h := dialH2(t, g.addr)
				g.prepare(t, h, state)
				h.raw(a.bytes(h))
				if a.lenient != "" && state == "grpc" {
					t.Logf("not checked: %s", a.lenient)
					g.healthy(t)
					return
				}
				closed, ga := h.waitClosed()
				if !closed {
					t.Fatalf("%s: the connection stayed open", a.name)
				}
				if ga != nil {
					t.Logf("GOAWAY %v", ga.ErrCode)
				}
			})
		}
		t.Run(state+"/unknown frame type", func(t *testing.T) {
			t.Parallel()
			h := dialH2(t, g.addr)
			g.prepare(t, h, state)
			h.raw(rawFrame(3, 0xfa, 0, 0, []byte("abc")))
			h.raw(rawFrame(3, 0xfa, 0, 7, []byte("abc")))
			// The connection still serves (a fresh classification if it
			// had none: gRPC).
			then := state
			if then == "unclassified" {
				then = "grpc"
			}
			g.prepare(t, h, then)
		})
	}
	t.Cleanup(func() { g.healthy(t) }) // after the parallel subtests
}
