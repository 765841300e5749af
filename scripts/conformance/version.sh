# The connectrpc conformance suite the harness runs: the runner
# (connectconformance), the reference server and the protos of gen/conformance
# all come from this one module version. Sourced by run.sh and generate.sh.
CONFORMANCE_VERSION=v1.0.7
