// Package tools pins the load generators bench/run.sh builds (ghz, through
// the tool directive of this module's go.mod) in a module of their own, so
// their dependencies never reach sluice's go.mod.
//
// Its test checks the gRPC client ghz links: the benchmark counts every
// error a call returns as the gateway's, so a client that fails calls by
// itself would be blamed on the systems it measures.
package tools
