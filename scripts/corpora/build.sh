#!/usr/bin/env bash
# build.sh builds the two contract corpora that sluice's REST routing is
# tested and measured against into scripts/corpora/out (git-ignored; the
# Google set is about 80 MB):
#
#   out/googleapis.binpb   every .proto of Google's published APIs with a
#                          google.api.http rule (about 1,550 files, 15,000
#                          bindings), from the npm package google-proto-files
#                          pinned in scripts/googleapis/package.json.
#   out/grpc-gateway.binpb grpc-gateway's example protos
#                          (examples/internal/proto/...) from the Go module
#                          github.com/grpc-ecosystem/grpc-gateway/v2 at the
#                          version go.mod pins.
#
# Both are compiled with the pinned buf (.bin/buf, `make tools`) with source
# info, as `buf build -o` gives users by default. The script is idempotent
# and skips a set that is newer than its inputs. Tests that use the sets
# skip with a message naming this script when they are absent.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "${here}/../.." && pwd)"
out="${here}/out"
buf="${BUF:-${root}/.bin/buf}"
if [[ ! -x "${buf}" ]]; then
  echo "build.sh: ${buf} not found; run 'make tools' first" >&2
  exit 1
fi
mkdir -p "${out}"

# Google's APIs: the npm package pinned for third_party/googleapis.
gapis="${root}/scripts/googleapis"
if [[ ! -d "${gapis}/node_modules/google-proto-files" ]]; then
  # As in scripts/googleapis/fetch.sh: plain data, no scripts, no engine check.
  (cd "${gapis}" && npm ci --ignore-scripts --no-audit --no-fund --engine-strict=false --loglevel=error >/dev/null)
fi
gpf="${gapis}/node_modules/google-proto-files"

if [[ ! "${out}/googleapis.binpb" -nt "${gapis}/package-lock.json" ]]; then
  paths=()
  while IFS= read -r f; do
    paths+=(--path "${f#./}")
  done < <(cd "${gpf}" && grep -rlF --include='*.proto' '(google.api.http)' google grafeas | LC_ALL=C sort)
  echo "build.sh: googleapis: $((${#paths[@]} / 2)) files with google.api.http rules"
  (cd "${gpf}" && "${buf}" build . "${paths[@]}" --as-file-descriptor-set -o "${out}/googleapis.binpb.tmp")
  mv "${out}/googleapis.binpb.tmp" "${out}/googleapis.binpb"
fi

# grpc-gateway's examples, with the googleapis files they import taken from
# the same npm package and protoc-gen-openapiv2's options from the module.
version="$(cd "${root}" && go list -m -f '{{.Version}}' github.com/grpc-ecosystem/grpc-gateway/v2)"
gwdir="$(cd "${root}" && go mod download -json "github.com/grpc-ecosystem/grpc-gateway/v2@${version}" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
if [[ -z "${gwdir}" || ! -d "${gwdir}/examples/internal/proto" ]]; then
  echo "build.sh: grpc-gateway ${version} examples not found (go mod download)" >&2
  exit 1
fi
if [[ ! "${out}/grpc-gateway.binpb" -nt "${root}/go.sum" || ! "${out}/grpc-gateway.binpb" -nt "${gapis}/package-lock.json" ]]; then
  stage="$(mktemp -d)"
  trap 'rm -rf "${stage}"' EXIT
  mkdir -p "${stage}/examples/internal" "${stage}/protoc-gen-openapiv2" "${stage}/google"
  cp -R "${gwdir}/examples/internal/proto" "${stage}/examples/internal/"
  cp -R "${gwdir}/protoc-gen-openapiv2/options" "${stage}/protoc-gen-openapiv2/"
  cp -R "${gpf}/google/api" "${gpf}/google/rpc" "${gpf}/google/type" "${stage}/google/"
  chmod -R u+w "${stage}"
  find "${stage}" -name 'buf*.yaml' -delete # the examples' own buf config points elsewhere
  echo "build.sh: grpc-gateway ${version}: $(find "${stage}/examples" -name '*.proto' | wc -l) example files"
  (cd "${stage}" && "${buf}" build . --path examples/internal/proto --as-file-descriptor-set -o "${out}/grpc-gateway.binpb.tmp")
  mv "${out}/grpc-gateway.binpb.tmp" "${out}/grpc-gateway.binpb"
fi
ls -l "${out}"/*.binpb
