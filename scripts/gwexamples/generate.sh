#!/usr/bin/env bash
# generate.sh writes gen/gwexamples: the Go types, gRPC clients and
# grpc-gateway handlers of grpc-gateway's own example protos, which the REST
# differential test (e2e/gwexamples_*) runs sluice against. Run by
# `make generate` after buf.gen.yaml's run (and committed, like all of gen/,
# so `go test ./...` needs nothing but a clone; `make check-generate` fails
# on any difference).
#
# The protos come from the Go module cache, at the grpc-gateway version
# go.mod pins (the handlers must match the runtime linked into the tests);
# the googleapis files they import from third_party/googleapis (the pinned
# npm package), and protoc-gen-openapiv2's options from the same module.
# They are staged under their own paths in a temporary directory and
# compiled there with the pinned buf and local plugins (buf.gen.gwexamples.yaml).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "${here}/../.." && pwd)"
buf="${BUF:-${root}/.bin/buf}"

# The example files whose services the test calls; the packages they import
# (sub, sub2, oneofenum, pathenum) get their Go types too.
files=(
  a_bit_of_everything.proto
  echo_service.proto
  flow_combination.proto
  response_body_service.proto
  stream.proto
  wrappers.proto
  non_standard_names.proto
)
deps=(sub sub2 oneofenum pathenum)

cd "${root}"
version="$(go list -m -f '{{.Version}}' github.com/grpc-ecosystem/grpc-gateway/v2)"
gwdir="$(go mod download -json "github.com/grpc-ecosystem/grpc-gateway/v2@${version}" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
if [[ -z "${gwdir}" || ! -d "${gwdir}/examples/internal/proto" ]]; then
  echo "generate.sh: grpc-gateway ${version} examples not found (go mod download)" >&2
  exit 1
fi

stage="$(mktemp -d)"
trap 'rm -rf "${stage}"' EXIT
ex="examples/internal/proto"
mkdir -p "${stage}/${ex}/examplepb" "${stage}/protoc-gen-openapiv2"
paths=()
for f in "${files[@]}"; do
  cp "${gwdir}/${ex}/examplepb/${f}" "${stage}/${ex}/examplepb/"
  paths+=(--path "${stage}/${ex}/examplepb/${f}")
done
for d in "${deps[@]}"; do
  mkdir -p "${stage}/${ex}/${d}"
  cp "${gwdir}/${ex}/${d}"/*.proto "${stage}/${ex}/${d}/"
  paths+=(--path "${stage}/${ex}/${d}")
done
cp -R "${gwdir}/protoc-gen-openapiv2/options" "${stage}/protoc-gen-openapiv2/"
cp -R "${root}/third_party/googleapis/google" "${stage}/"
chmod -R u+w "${stage}"
find "${stage}" -name 'buf*.yaml' -delete

"${buf}" generate "${stage}" --template buf.gen.gwexamples.yaml "${paths[@]}"
