#!/usr/bin/env bash
# fetch.sh copies the googleapis .proto files that sluice's contracts import
# into third_party/googleapis, taken from the npm package google-proto-files
# pinned (with integrity hashes) in package.json and package-lock.json here.
#
# Why npm: the Buf Schema Registry is not reachable from our build machines,
# and the npm registry is. The copies are committed so that `buf breaking`
# against git and `buf build` work offline; CI runs this script and fails on
# any diff, so the committed files always match the pinned package.
#
# The script is idempotent: running it twice leaves the tree unchanged.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "${here}/../.." && pwd)"
dest="${root}/third_party/googleapis"

# Exactly the files our protos (and the error details we send) need.
files=(
  google/api/annotations.proto
  google/api/field_behavior.proto
  google/api/http.proto
  google/api/httpbody.proto
  google/rpc/code.proto
  google/rpc/error_details.proto
  google/rpc/status.proto
)

# google-proto-files declares node >=22 but is plain data; do not fail on the
# engine check. Scripts are not needed and are not run.
(cd "${here}" && npm ci --ignore-scripts --no-audit --no-fund --engine-strict=false --loglevel=error >/dev/null)

src="${here}/node_modules/google-proto-files"
rm -rf "${dest}/google"
for f in "${files[@]}"; do
  install -D -m 0644 "${src}/${f}" "${dest}/${f}"
done
# The package's licence travels with the copied files.
install -m 0644 "${src}/LICENSE" "${dest}/LICENSE"
