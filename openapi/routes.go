package openapi

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/sluice-dev/sluice/registry"
	"github.com/sluice-dev/sluice/transcoding"
)

// WriteRoutes prints the REST route table of s for `sluice routes`: one
// row per HTTP binding, sorted by template then HTTP method, with the
// gRPC method, the body and response_body fields ("-" when none) and the
// contract the binding comes from. The table is the one the REST
// transcoder serves (transcoding.BuildRoutes), so a route that would be
// refused is reported as its error instead.
func WriteRoutes(w io.Writer, s *registry.Snapshot) error {
	if s == nil {
		return fmt.Errorf("routes: nil snapshot")
	}
	rt, err := transcoding.BuildRoutes(s)
	if err != nil {
		return fmt.Errorf("routes: %w", err)
	}
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "VERB\tTEMPLATE\tMETHOD\tBODY\tRESPONSE BODY\tSOURCE")
	for _, r := range rt.List() {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.HTTPMethod, r.Template, r.Method, dash(r.Body), dash(r.ResponseBody), r.Source)
	}
	return tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
