package httpstatus_test

import (
	"fmt"
	"net/http/httptest"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/sluice-dev/sluice/httpstatus"
)

func ExampleNewWriter() {
	ew := httpstatus.NewWriter(protojson.MarshalOptions{})
	rec := httptest.NewRecorder()
	ew.WriteStatus(rec, status.New(codes.NotFound, "no route for GET /v1/nope"))
	fmt.Println(rec.Code, rec.Header().Get("Content-Type"))
	fmt.Println(httpstatus.FromCode(codes.Unavailable))
	// Output:
	// 404 application/json
	// 503
}
