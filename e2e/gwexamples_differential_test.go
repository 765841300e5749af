package e2e_test

import (
	"context"
	"fmt"
	"maps"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/sluice-dev/sluice/gen/gwexamples/examplepb"
	"github.com/sluice-dev/sluice/internal/gatewaytest"
	"github.com/sluice-dev/sluice/registry"
	"github.com/sluice-dev/sluice/server"
	"github.com/sluice-dev/sluice/transcoding"
)

// The REST differential test over grpc-gateway's own example protos
// (examples/internal/proto of the pinned grpc-gateway module, generated into
// gen/gwexamples by `make generate`): every request goes to grpc-gateway's
// generated handlers and to sluice, each in front of its own gwUpstream, and
// the test compares the HTTP status, the relevant headers, the body, and —
// the strongest check of binding — the request messages each upstream
// received (protocmp). The cases are in gwexamples_cases_test.go.

// gwCase is one row of the examples' differential table.
type gwCase struct {
	name string
	request
	// status is grpc-gateway's HTTP status (pinned, as in restCase).
	status int
	// diff marks a deliberate difference, listed in docs/rest-differences.md.
	diff *expectDiff
	// pending marks a difference that is a known sluice bug being fixed
	// elsewhere: the answers are compared and must still differ (so the mark
	// is dropped once the fix lands), but sluice's answer is not asserted.
	pending string
	// racyUpstream, when set, says why whether the upstream sees the call
	// is a race for grpc-gateway, so the upstream calls are not compared.
	racyUpstream string
}

// gwServices are the example services both gateways serve.
var gwServices = []struct {
	name     string
	register func(context.Context, *runtime.ServeMux, string, []grpc.DialOption) error
}{
	{"ABitOfEverythingService", examplepb.RegisterABitOfEverythingServiceHandlerFromEndpoint},
	{"camelCaseServiceName", examplepb.RegisterCamelCaseServiceNameHandlerFromEndpoint},
	{"SnakeEnumService", examplepb.RegisterSnakeEnumServiceHandlerFromEndpoint},
	{"EchoService", examplepb.RegisterEchoServiceHandlerFromEndpoint},
	{"FlowCombination", examplepb.RegisterFlowCombinationHandlerFromEndpoint},
	{"ResponseBodyService", examplepb.RegisterResponseBodyServiceHandlerFromEndpoint},
	{"StreamService", examplepb.RegisterStreamServiceHandlerFromEndpoint},
	{"WrappersService", examplepb.RegisterWrappersServiceHandlerFromEndpoint},
	{"NonStandardService", examplepb.RegisterNonStandardServiceHandlerFromEndpoint},
}

const gwPackage = "grpc.gateway.examples.internal.proto.examplepb"

// gwFiles are the example files sluice loads: those that define
// gwServices, and not the example files they import, which
// registry.Linked must find itself. (It once rebuilt the imported
// messages' descriptors while their Go types stayed linked, and binding a
// path variable into such a message, Lookup's sub2.IdMessage, panicked.)
func gwFiles() []protoreflect.FileDescriptor {
	return []protoreflect.FileDescriptor{
		examplepb.File_examples_internal_proto_examplepb_a_bit_of_everything_proto,
		examplepb.File_examples_internal_proto_examplepb_echo_service_proto,
		examplepb.File_examples_internal_proto_examplepb_flow_combination_proto,
		examplepb.File_examples_internal_proto_examplepb_response_body_service_proto,
		examplepb.File_examples_internal_proto_examplepb_stream_proto,
		examplepb.File_examples_internal_proto_examplepb_wrappers_proto,
		examplepb.File_examples_internal_proto_examplepb_non_standard_names_proto,
	}
}

// startGWGrpcGateway serves the examples' generated grpc-gateway handlers
// on one default runtime.ServeMux in front of upstream.
func startGWGrpcGateway(tb testing.TB, upstream string) string {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	mux := runtime.NewServeMux()
	dial := []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}
	for _, s := range gwServices {
		if err := s.register(ctx, mux, upstream, dial); err != nil {
			cancel()
			tb.Fatalf("register %s: %v", s.name, err)
		}
	}
	srv := httptest.NewServer(fullDuplex(mux))
	tb.Cleanup(func() {
		srv.Close()
		cancel()
	})
	return srv.URL
}

// startGWSluice runs sluice over the example files in front of upstream.
func startGWSluice(tb testing.TB, upstream string, opts ...transcoding.Option) string {
	tb.Helper()
	// A long header grace: whether a stream that fails right after its
	// header answers with the failure's status must not depend on how
	// fast a loaded machine runs the proxy (grpc-gateway waits for the
	// first message however long it takes).
	opts = append([]transcoding.Option{transcoding.WithStreamHeaderGrace(5 * time.Second)}, opts...)
	reg, err := registry.New(registry.Linked(gwFiles()...))
	if err != nil {
		tb.Fatal(err)
	}
	gw := gatewaytest.NewGateway(tb, gatewaytest.Route(upstream, gwPackage+".*"))
	gw.Start(tb, server.WithHTTPHandler(newSluiceREST(tb, reg, gw.Dispatcher, opts...)))
	return "http://" + gw.Addr
}

// TestRESTDifferentialGWExamples runs the examples' table in both codec
// modes.
func TestRESTDifferentialGWExamples(t *testing.T) {
	gatewaytest.CheckLeaks(t)
	for _, mode := range []struct {
		name string
		opts []transcoding.Option
	}{{"fast codecs", nil}, {"protojson only", []transcoding.Option{transcoding.WithProtojsonOnly()}}} {
		t.Run(mode.name, func(t *testing.T) { testGWDifferential(t, mode.opts != nil, mode.opts) })
	}
}

func testGWDifferential(t *testing.T, protojsonOnly bool, opts []transcoding.Option) {
	gwUp, slUp := startGWUpstream(t), startGWUpstream(t)
	gwURL := startGWGrpcGateway(t, gwUp.addr)
	slURL := startGWSluice(t, slUp.addr, opts...)
	client := newClient(t)

	cases := gwCases()
	if len(cases) < 300 {
		t.Fatalf("the table has %d cases, want at least 300", len(cases))
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.request
			r.header = maps.Clone(r.header)
			r.header["Grpc-Metadata-X-Gw-Case"] = tc.name
			want := send(t, client, gwURL, r)
			got := send(t, client, slURL, r)
			wantCalls, gotCalls := gwUp.callsTagged(tc.name), slUp.callsTagged(tc.name)
			if want.status != tc.status {
				t.Errorf("grpc-gateway answered %d, the table says %d; body %s", want.status, tc.status, clip(want.body))
			}
			diffs := diffResponses(want, got, false)
			// Besides the headers the demo's table compares: the challenge
			// an UNAUTHENTICATED answer carries.
			if w, g := want.header.Values("WWW-Authenticate"), got.header.Values("WWW-Authenticate"); !slices.Equal(w, g) {
				diffs = append(diffs, fmt.Sprintf("header WWW-Authenticate: grpc-gateway %q, sluice %q", w, g))
			}
			if tc.racyUpstream == "" {
				diffs = append(diffs, diffCalls(wantCalls, gotCalls)...)
			} else {
				// Whether the upstream's headers arrived is the same race.
				diffs = slices.DeleteFunc(diffs, func(d string) bool { return strings.HasPrefix(d, "header Grpc-Metadata-") })
			}
			if protojsonOnly && strings.HasPrefix(tc.pending, fastOnly) {
				tc.pending = ""
			}
			switch {
			case tc.pending != "":
				if len(diffs) == 0 {
					t.Errorf("marked pending (%s) but sluice answers as grpc-gateway does: drop the mark", tc.pending)
				}
				for _, d := range diffs {
					t.Logf("pending (%s): %s", tc.pending, d)
				}
			case tc.diff != nil:
				if len(diffs) == 0 {
					t.Errorf("marked expectDiff (%s) but sluice answers as grpc-gateway does: drop the mark and its row in docs/rest-differences.md", tc.diff.why)
				}
				checkDiff(t, tc.diff, got)
			default:
				for _, d := range diffs {
					t.Error(d)
				}
			}
		})
	}
}

// diffCalls lists how the upstream calls sluice made differ from
// grpc-gateway's: which methods, and the request messages of each.
func diffCalls(want, got []gwCall) []string {
	var diffs []string
	if len(want) != len(got) {
		return append(diffs, fmt.Sprintf("upstream calls: grpc-gateway %s, sluice %s", callNames(want), callNames(got)))
	}
	for i := range want {
		if want[i].method != got[i].method {
			diffs = append(diffs, fmt.Sprintf("upstream call %d: grpc-gateway %s, sluice %s", i, want[i].method, got[i].method))
			continue
		}
		if d := cmp.Diff(want[i].reqs, got[i].reqs, protocmp.Transform(), cmpopts.EquateNaNs()); d != "" {
			diffs = append(diffs, fmt.Sprintf("upstream request of %s (-grpc-gateway +sluice):\n%s", want[i].method, d))
		}
	}
	return diffs
}

func callNames(calls []gwCall) string {
	names := make([]string, len(calls))
	for i, c := range calls {
		names[i] = c.method
	}
	return "[" + strings.Join(names, " ") + "]"
}
