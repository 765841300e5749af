#!/usr/bin/env bash
# Runs connectrpc's conformance suite (connectrpc.com/conformance, the
# version in version.sh) against sluice: its runner, connectconformance,
# in server mode, sends every test case of a protocol through a real
# `sluice serve` to the suite's reference server as the upstream
# (internal/conformance/cmd/sut starts both). One runner configuration per
# protocol, in this directory:
#
#   grpc.yaml       gRPC (h2c), what sluice serves natively
#   grpc-web.yaml   gRPC-Web (HTTP/1.1 and h2c), the grpcweb adapter
#   connect.yaml    the Connect protocol (HTTP/1.1 and h2c, proto and JSON,
#                   Connect GET), the connectproto adapter
#
#   scripts/conformance/run.sh               # every configuration
#   scripts/conformance/run.sh grpc-web      # one; extra runner flags after it:
#   scripts/conformance/run.sh grpc-web --run '**/unary/**' --trace
#
# No case is marked known-failing: every case of these configurations
# passes. Tools are installed into $CONFORMANCE_BIN (default .bin/, as in
# CI); sluice and the server under test are built into a temporary
# directory, so that runs from several checkouts never share a binary.
# Logs of sluice and the reference server are kept on failure.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "${here}/../.." && pwd)"
cd "${root}"
# shellcheck source=version.sh
source "${here}/version.sh"

# The protocols the suite runs against sluice.
CONFIGS=(grpc grpc-web connect)

BIN="${CONFORMANCE_BIN:-${root}/.bin}"
mkdir -p "${BIN}"
runner="${BIN}/connectconformance-${CONFORMANCE_VERSION}"
reference="${BIN}/referenceserver-${CONFORMANCE_VERSION}"
if [[ ! -x ${runner} || ! -x ${reference} ]]; then
	echo "conformance: installing connectconformance and referenceserver ${CONFORMANCE_VERSION}"
	tmp="$(mktemp -d)"
	GOBIN="${tmp}" go install "connectrpc.com/conformance/cmd/connectconformance@${CONFORMANCE_VERSION}" \
		"connectrpc.com/conformance/cmd/referenceserver@${CONFORMANCE_VERSION}"
	mv "${tmp}/connectconformance" "${runner}"
	mv "${tmp}/referenceserver" "${reference}"
	rmdir "${tmp}"
fi

work="$(mktemp -d)"
keep=0
cleanup() { if ((keep == 0)); then rm -rf "${work}"; fi; }
trap cleanup EXIT
go build -o "${work}/sluice" ./cmd/sluice
go build -o "${work}/sut" ./internal/conformance/cmd/sut

configs=("${CONFIGS[@]}")
extra=()
if (($# > 0)); then
	configs=("$1")
	shift
	extra=("$@")
fi

failed=()
for c in "${configs[@]}"; do
	echo "conformance: ${c} (${here}/${c}.yaml)"
	# One server and a few calls at a time: CI has two cores, and the
	# suite's timeout cases must not starve.
	if ! "${runner}" --mode server --conf "${here}/${c}.yaml" --max-servers 1 --parallel 4 "${extra[@]}" -- \
		"${work}/sut" --sluice "${work}/sluice" --referenceserver "${reference}" \
		--descriptor-set "${root}/gen/descriptors/conformance.binpb" --logs "${work}/logs/${c}"; then
		failed+=("${c}")
	fi
done
if ((${#failed[@]})); then
	keep=1
	echo "conformance: FAILED: ${failed[*]} (logs of sluice and the reference server in ${work}/logs)" >&2
	exit 1
fi
echo "conformance: PASS: ${configs[*]}"
