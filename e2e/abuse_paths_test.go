package e2e_test

import (
	"strconv"
	"testing"

	"google.golang.org/protobuf/proto"

	libraryv1 "github.com/sluice-dev/sluice/gen/go/sluice/demo/library/v1"
	"github.com/sluice-dev/sluice/internal/gatewaytest"
)

// TestAbusePaths sends, without credentials, gRPC and REST requests over
// raw HTTP/2 whose :path tries to reach a protected method through dot
// segments, doubled or percent-encoded slashes, case or a non-canonical
// method path — :path exactly as written, which no HTTP client library
// sends (TestPolicyCraftedPaths covers HTTP/1.1 and grpc-go) — and checks
// at the upstream that none reached a method the policy closes, and that
// no such call succeeded.
func TestAbusePaths(t *testing.T) {
	gatewaytest.CheckLeaks(t)
	g := startAbuseGateway(t, abuseOptions{})
	const svc = "/" + librarySvc

	grpcPaths := []string{
		svcPrefix + "GetShelf/../DeleteShelf",
		svcPrefix + "GetShelf/../../" + librarySvc + "/DeleteShelf",
		svc + ".GetShelf/../" + librarySvc + "/DeleteShelf",
		"/" + svcPrefix + "DeleteShelf",
		svc + "//DeleteShelf",
		svc + "%2FDeleteShelf",
		svc + "%2fDeleteShelf",
		svcPrefix + "GetShelf%2F..%2FDeleteShelf",
		svcPrefix + "%44eleteShelf",
		svcPrefix + "DeleteShelf/",
		svcPrefix + "DeleteShelf/.",
		svcPrefix + "./DeleteShelf",
		"/./" + librarySvc + "/DeleteShelf",
		svcPrefix + "deleteshelf",
		svcPrefix + "DeleteShelf?GetShelf",
		svcPrefix + "DeleteShelf#GetShelf",
		svcPrefix + "DeleteShelf;GetShelf",
		svcPrefix + "DeleteShelf\\..\\GetShelf",
		librarySvc + "/DeleteShelf",
		"*",
		"",
		"http://x" + svcPrefix + "DeleteShelf",
	}
	restPaths := []string{
		"/v1/shelves/classics/../classics",
		"/v1//shelves/classics",
		"//v1/shelves/classics",
		"/v1/shelves%2Fclassics",
		"/v1/shelves/classics%2F..%2F..%2Fshelves",
		"/v1/shelves/./classics",
		"/v1/shelves/%2e%2e/shelves/classics",
		"/V1/SHELVES/classics",
		"/v1/shelves/classics?x=../../shelves",
		"*",
		"",
		"http://evil/v1/shelves/classics",
	}
	msg, _ := proto.Marshal(&libraryv1.DeleteShelfRequest{Name: "shelves/classics"})

	for _, p := range grpcPaths {
		t.Run("grpc "+strconv.Quote(p), func(t *testing.T) {
			t.Parallel()
			h := dialH2(t, g.addr)
			id := newTestID("path")
			sid, err := h.open(false, grpcHeaders(g.addr, p, testIDKey, id)...)
			if err == nil {
				err = h.data(sid, grpcMessage(false, msg), true)
			}
			r, ok := h.wait(sid)
			if !ok {
				t.Fatalf("unanswered (write: %v)", err)
			}
			reached := g.rec.methods(id)
			t.Logf("%v; upstream saw %v", r, reached)
			for _, m := range reached {
				if !isAnonymous(m) {
					t.Errorf("%q without credentials reached %s at the upstream", p, m)
				}
			}
			if r.grpcStatus == "0" && len(reached) == 0 {
				t.Errorf("%q: OK without reaching the upstream", p)
			}
		})
	}
	for _, method := range []string{"DELETE", "PATCH", "POST"} {
		for _, p := range restPaths {
			t.Run("rest "+method+" "+strconv.Quote(p), func(t *testing.T) {
				t.Parallel()
				h := dialH2(t, g.addr)
				id := newTestID("path")
				sid, err := h.open(false, restHeaders(g.addr, method, p, "content-type", "application/json", "grpc-metadata-"+testIDKey, id)...)
				if err == nil {
					err = h.data(sid, []byte(`{"displayName":"x"}`), true)
				}
				r, ok := h.wait(sid)
				if !ok {
					t.Fatalf("unanswered (write: %v)", err)
				}
				reached := g.rec.methods(id)
				t.Logf("%v; upstream saw %v", r, reached)
				for _, m := range reached {
					if !isAnonymous(m) {
						t.Errorf("%s %q without credentials reached %s at the upstream", method, p, m)
					}
				}
				if len(r.status) == 3 && r.status[0] == '2' {
					t.Errorf("%s %q without credentials: %v", method, p, r)
				}
			})
		}
	}
	t.Cleanup(func() { g.healthy(t) })
}
