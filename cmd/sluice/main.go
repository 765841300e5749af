// Command sluice is the gRPC-first API gateway: one binary, one port, every
// protocol, with one interceptor chain in front of every upstream call.
//
//	sluice serve [--config FILE] [--listen ADDR] [--admin ADDR]
//	             [--descriptor-set FILE]... [--proto DIR_OR_FILE]...
//	             [--upstream PATTERN=TARGET]...
//	sluice validate [same flags] [--strict]
//	sluice routes [same flags]
//	sluice openapi [same flags]
//	sluice demo-upstream [--listen ADDR]
//	sluice version
//
// With no --config, --descriptor-set, --proto or --upstream, serve runs the embedded
// demo: the library API in-process behind the gateway.
package main

import (
	"fmt"
	"io"
	"os"

	"github.com/sluice-dev/sluice/upstream/outlier"
)

func main() {
	// Before any connection exists: grpc-go's registry of load-balancing
	// policies may not be written later.
	outlier.Register()
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

const usage = `sluice: a gRPC-first API gateway

usage:
  sluice serve [flags]          run the gateway: gRPC, gRPC-Web, Connect and REST/JSON on one port
                                (no flags: the embedded demo)
  sluice validate [flags]       check the configuration; print every problem
  sluice routes [flags]         print the REST route table of the contracts
  sluice openapi [flags]        print the OpenAPI 3.1 document of the contracts
  sluice demo-upstream [flags]  run the demo library service alone
  sluice token [flags]          mint a token for the embedded demo (demo key: not for production)
  sluice version                print the version, commit and Go version (also --version)
  sluice help                   show this text

Run 'sluice COMMAND -h' for the flags of a command.
`

// run is main without the exit, for tests.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "serve":
		return serveCommand(args[1:], stdout, stderr)
	case "validate":
		return validateCommand(args[1:], stdout, stderr)
	case "routes", "openapi":
		return docsCommand(args[0], args[1:], stdout, stderr)
	case "demo-upstream":
		return demoUpstreamCommand(args[1:], stdout, stderr)
	case "token":
		return tokenCommand(args[1:], stdout, stderr)
	case "version", "--version":
		return versionCommand(stdout)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "sluice: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
}
