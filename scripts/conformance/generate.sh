#!/usr/bin/env bash
# generate.sh writes what the conformance harness (run.sh) needs from
# connectrpc's conformance suite: the Go types of its protos in
# gen/conformance (the server under test reads the runner's requests with
# them) and the descriptor set gen/descriptors/conformance.binpb (with its
# imports, loadable on its own) that sluice serves the conformance service
# from. Run by `make generate`, committed like all of gen/.
#
# The protos come from the Go module cache, at the version run.sh installs
# the runner and the reference server at (CONFORMANCE_VERSION below), so
# what sluice is given and what the runner sends always match.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "${here}/../.." && pwd)"
buf="${BUF:-${root}/.bin/buf}"
# shellcheck source=version.sh
source "${here}/version.sh"

cd "${root}"
dir="$(go mod download -json "connectrpc.com/conformance@${CONFORMANCE_VERSION}" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
if [[ -z "${dir}" || ! -d "${dir}/proto/connectrpc/conformance/v1" ]]; then
  echo "generate.sh: connectrpc.com/conformance ${CONFORMANCE_VERSION} protos not found (go mod download)" >&2
  exit 1
fi

stage="$(mktemp -d)"
trap 'rm -rf "${stage}"' EXIT
mkdir -p "${stage}/connectrpc/conformance"
cp -R "${dir}/proto/connectrpc/conformance/v1" "${stage}/connectrpc/conformance/"
chmod -R u+w "${stage}"

"${buf}" generate "${stage}" --template buf.gen.conformance.yaml
mkdir -p gen/descriptors
"${buf}" build "${stage}" --as-file-descriptor-set -o gen/descriptors/conformance.binpb
