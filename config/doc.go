// Package config owns sluice's configuration: its schema as plain Go
// structs, the defaults, strict parsing of a YAML document and validation.
//
// Every problem is reported at once, as an *Errors whose entries carry the
// key path and the line and column of the offending value
// ("sluice.yaml:12:5: upstreams[1].target: must not be empty"), so that
// "sluice validate" can list them all in one run.
//
// The configuration is data, not a runtime library: package policy turns
// it into the interceptors' options, and the value checks of a setting
// live in the package that uses it (authz.ParseClaimCheck,
// authn.ParseKeyHash, identity.ValidMetadataKey, ratelimit.ParseTrustedProxy,
// ...), which Validate calls so that a value is judged the same way at
// validation and at start-up. The defaults live here, in Default.
//
// The package reads no flags and no environment; only cmd/ does. Load is
// the one helper that reads a file. Each key is documented by a doc tag on
// its struct field; Reference renders them, with the defaults, as the
// markdown of docs/configuration.md, so the documentation cannot drift from
// the code.
package config
