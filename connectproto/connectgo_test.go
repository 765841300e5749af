package connectproto_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	errdetails "google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// These tests drive the gateway with connect-go's own client, the
// protocol's reference implementation, over HTTP/1.1 and h2c, with proto
// and JSON: what it accepts is what Connect clients accept.

type sv = wrapperspb.StringValue

func clientOpts(codec string, extra ...connect.ClientOption) []connect.ClientOption {
	opts := append([]connect.ClientOption{}, extra...)
	if codec == "json" {
		opts = append(opts, connect.WithProtoJSON())
	}
	return opts
}

// transports are the client transports every call kind is tried over
// (bidi only over h2c: HTTP/1.1 carries it half-duplex at best).
func (h *harness) transports() map[string]*http.Client {
	return map[string]*http.Client{"http1": h.h1, "h2c": h.h2c}
}

func TestConnectGoUnary(t *testing.T) {
	t.Parallel()
	h := startHarness(t, nil)
	for tname, hc := range h.transports() {
		for _, codec := range []string{"proto", "json"} {
			for _, get := range []bool{false, true} {
				name := fmt.Sprintf("%s/%s/get=%v", tname, codec, get)
				t.Run(name, func(t *testing.T) {
					t.Parallel()
					var extra []connect.ClientOption
					if get {
						extra = append(extra, connect.WithHTTPGet(), connect.WithIdempotency(connect.IdempotencyNoSideEffects))
					}
					c := connect.NewClient[sv, sv](hc, h.url+"/"+svc+"/Unary", clientOpts(codec, extra...)...)
					ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
					defer cancel()
					req := connect.NewRequest(wrapperspb.String("hello " + name))
					req.Header().Set("X-Echo", "e-"+codec)
					res, err := c.CallUnary(ctx, req)
					if err != nil {
						t.Fatal(err)
					}
					if got := res.Msg.GetValue(); got != "hello "+name {
						t.Errorf("response %q, want the request echoed", got)
					}
					if got := res.Header().Get("X-Echo"); got != "e-"+codec {
						t.Errorf("response header x-echo %q, want %q", got, "e-"+codec)
					}
					if got := res.Trailer().Get("X-Echo-T"); got != "e-"+codec {
						t.Errorf("response trailer x-echo-t %q, want %q", got, "e-"+codec)
					}
				})
			}
		}
	}
}

func TestConnectGoErrorDetails(t *testing.T) {
	t.Parallel()
	h := startHarness(t, nil)
	for _, codec := range []string{"proto", "json"} {
		t.Run(codec, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			check := func(err error) {
				t.Helper()
				var ce *connect.Error
				if !errors.As(err, &ce) {
					t.Fatalf("error %v, want a *connect.Error", err)
				}
				if ce.Code() != connect.CodeNotFound || ce.Message() != "scripted failure" {
					t.Errorf("error %v, want not_found: scripted failure", ce)
				}
				if len(ce.Details()) != 1 {
					t.Fatalf("%d details, want 1", len(ce.Details()))
				}
				v, err := ce.Details()[0].Value()
				if err != nil {
					t.Fatal(err)
				}
				if info, ok := v.(*errdetails.ErrorInfo); !ok || info.GetReason() != "SCRIPTED" {
					t.Errorf("detail %v, want the upstream's ErrorInfo", v)
				}
			}
			unary := connect.NewClient[sv, sv](h.h2c, h.url+"/"+svc+"/Unary", clientOpts(codec)...)
			_, err := unary.CallUnary(ctx, connect.NewRequest(wrapperspb.String("fail:5")))
			check(err)
			bidi := connect.NewClient[sv, sv](h.h2c, h.url+"/"+svc+"/Bidi", clientOpts(codec)...)
			st := bidi.CallBidiStream(ctx)
			if err := st.Send(wrapperspb.String("fail:5")); err != nil {
				t.Fatal(err)
			}
			_ = st.CloseRequest()
			_, err = st.Receive()
			check(err)
			_ = st.CloseResponse()
		})
	}
}

func TestConnectGoStreams(t *testing.T) {
	t.Parallel()
	h := startHarness(t, nil)
	for tname, hc := range h.transports() {
		for _, codec := range []string{"proto", "json"} {
			t.Run(tname+"/"+codec+"/server", func(t *testing.T) {
				t.Parallel()
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				c := connect.NewClient[sv, sv](hc, h.url+"/"+svc+"/ServerStream", clientOpts(codec)...)
				st, err := c.CallServerStream(ctx, connect.NewRequest(wrapperspb.String("count:3")))
				if err != nil {
					t.Fatal(err)
				}
				var got []string
				for st.Receive() {
					got = append(got, st.Msg().GetValue())
				}
				if err := st.Err(); err != nil {
					t.Fatal(err)
				}
				if strings.Join(got, ",") != "msg-0,msg-1,msg-2" {
					t.Errorf("messages %q, want msg-0..msg-2", got)
				}
				_ = st.Close()
			})
			t.Run(tname+"/"+codec+"/client", func(t *testing.T) {
				t.Parallel()
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				c := connect.NewClient[sv, sv](hc, h.url+"/"+svc+"/ClientStream", clientOpts(codec, connect.WithSendGzip())...)
				st := c.CallClientStream(ctx)
				for _, v := range []string{"a", "", strings.Repeat("b", 4096)} {
					if err := st.Send(wrapperspb.String(v)); err != nil {
						t.Fatal(err)
					}
				}
				res, err := st.CloseAndReceive()
				if err != nil {
					t.Fatal(err)
				}
				if want := "a,," + strings.Repeat("b", 4096); res.Msg.GetValue() != want {
					t.Errorf("response %.20q..., want the requests joined", res.Msg.GetValue())
				}
			})
		}
	}
	for _, codec := range []string{"proto", "json"} {
		t.Run("h2c/"+codec+"/bidi", func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			c := connect.NewClient[sv, sv](h.h2c, h.url+"/"+svc+"/Bidi", clientOpts(codec)...)
			st := c.CallBidiStream(ctx)
			// Full duplex: each response arrives before the next request
			// is sent.
			for i := range 3 {
				v := fmt.Sprintf("ping-%d", i)
				if err := st.Send(wrapperspb.String(v)); err != nil {
					t.Fatal(err)
				}
				got, err := st.Receive()
				if err != nil {
					t.Fatal(err)
				}
				if got.GetValue() != v {
					t.Errorf("got %q, want %q", got.GetValue(), v)
				}
			}
			if err := st.CloseRequest(); err != nil {
				t.Fatal(err)
			}
			if _, err := st.Receive(); !errors.Is(err, io.EOF) {
				t.Errorf("after the last message: %v, want io.EOF", err)
			}
			_ = st.CloseResponse()
		})
	}
}
