package openapi

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/sluice-dev/sluice/registry"
	"github.com/sluice-dev/sluice/transcoding"
)

// WriteRoutes prints the REST route table of s for `sluice routes`: one
// row per google.api.http binding of the contracts (additional bindings
// included), sorted by template then HTTP method, with the gRPC method, the
// body and response_body fields ("-" when none), the contract the binding
// comes from and its status: "ok", "shadowed by <the binding served
// instead>" or "skipped: <why sluice cannot serve it>". So the table has as
// many rows as the contracts have bindings. The table is the one the REST
// transcoder serves (transcoding.BuildRoutes with opts); with
// transcoding.WithStrictRoutes a binding that is not served is an error
// and nothing is printed.
func WriteRoutes(w io.Writer, s *registry.Snapshot, opts ...transcoding.RouteOption) error {
	if s == nil {
		return fmt.Errorf("routes: nil snapshot")
	}
	rt, err := transcoding.BuildRoutes(s, opts...)
	if err != nil {
		return fmt.Errorf("routes: %w", err)
	}
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "VERB\tTEMPLATE\tMETHOD\tBODY\tRESPONSE BODY\tSOURCE\tSTATUS")
	for _, r := range rt.All() {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.HTTPMethod, r.Template, r.Method, dash(r.Body), dash(r.ResponseBody), r.Source, r.StatusText())
	}
	return tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
