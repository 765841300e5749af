package e2e_test

import (
	"testing"

	"github.com/sluice-dev/sluice/internal/gatewaytest"
)

// TestRESTStreamingDifferential sends streaming calls to grpc-gateway and
// to sluice in its default (envelope) stream format and compares the
// answers: the {"result": ...} lines, the {"error": ...} line of a stream
// that fails after its first message, the status of one that fails before,
// and client and bidirectional streams of concatenated JSON messages, the
// body grpc-gateway reads. Each side has its own upstream; calls that
// change it run in the same order on both.
func TestRESTStreamingDifferential(t *testing.T) {
	gatewaytest.CheckLeaks(t)
	gwURL := startGRPCGateway(t, startDemo(t))
	slURL := startSluice(t, startDemo(t))
	client := newClient(t)

	failAfter := []string{"Grpc-Metadata-X-Demo-Fail-After", "1", "Grpc-Metadata-X-Demo-Fail", "DATA_LOSS:torn page"}
	cases := []struct {
		name    string
		request request
		status  int
	}{
		{"export", get("/v1/shelves/scifi/books:export"), 200},
		{"export-not-found", get("/v1/shelves/nope/books:export"), 404},
		{"export-fails-after-one", get("/v1/shelves/scifi/books:export", failAfter...), 200},
		{"export-fails-at-once", get("/v1/shelves/scifi/books:export", "Grpc-Metadata-X-Demo-Fail", "PERMISSION_DENIED:no"), 403},
		{"import", post("/v1/books:import",
			`{"parent":"shelves/scifi","bookId":"one","book":{"title":"One"}}`+"\n"+
				`{"book":{"title":""}}`+"\n"+
				`{"bookId":"two","book":{"title":"Two"}}`), 200},
		{"import-bad-parent", post("/v1/books:import", `{"parent":"nope","book":{"title":"x"}}`), 400},
		{"export-after-import", get("/v1/shelves/scifi/books:export"), 200},
		{"discuss", post("/v1/books:discuss",
			`{"name":"shelves/classics/books/moby-dick","text":"whales?"}`+"\n"+`{"text":"indeed","speaker":"ann"}`), 200},
		{"discuss-fails-after-one", post("/v1/books:discuss",
			`{"name":"shelves/classics/books/moby-dick","text":"hi"}`+"\n"+`{"text":"fail"}`), 200},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			want := send(t, client, gwURL, tc.request)
			got := send(t, client, slURL, tc.request)
			if want.status != tc.status {
				t.Errorf("grpc-gateway answered %d, the table says %d; body %s", want.status, tc.status, clip(want.body))
			}
			for _, d := range diffResponses(want, got, false) {
				t.Error(d)
			}
		})
	}
}
