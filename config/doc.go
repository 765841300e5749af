// Package config owns sluice's configuration: its schema as plain Go
// structs, the defaults, strict parsing of a YAML document and validation.
//
// Every problem is reported at once, as an *Errors whose entries carry the
// key path and the line and column of the offending value
// ("sluice.yaml:12:5: upstreams[1].target: must not be empty"), so that
// "sluice validate" can list them all in one run.
//
// The package reads no flags and no environment; only cmd/ does. Load is
// the one helper that reads a file. Each key is documented by a doc tag on
// its struct field; Reference renders them, with the defaults, as the
// markdown of docs/configuration.md, so the documentation cannot drift from
// the code.
package config
