#!/usr/bin/env bash
# The side-by-side benchmark of sluice (docs/benchmarks.md): one demo
# upstream; direct calls, sluice (gRPC, and gRPC-Web and REST over HTTP/1.1
# and h2c), grpc-gateway's generated handler, mwitkow/grpc-proxy and a bare
# TCP relay (the floor of any extra hop) in front of it; ghz and h2load as
# load generators; loopback only.
#
#   bench/run.sh            full run (3 repetitions, < 10 minutes on 2 cores)
#   bench/run.sh --quick    one short repetition (< 2 minutes): proves the harness
#   bench/run.sh --profile  CPU and allocation profiles of sluice under load
#
# To measure one setting, select part of the run (its results are written
# with a -partial stamp and never become latest.*), e.g.
#   bench/run.sh --systems=sluice-grpc,grpc-proxy,tcp-relay --workloads=unary-small \
#     --modes=rate --rate=3000 --reps=3 --sluice-config=bench/settings/pool4.yaml
# (--sluice-config: a sluice YAML file whose upstream address is $UPSTREAM).
#
# It installs what it needs: h2load (Debian's nghttp2-client) when missing,
# ghz at the version pinned in bench/tools/go.mod, and builds sluice and the
# comparison gateways into .bin/bench ($BENCH_BIN if set, so that runs from
# several checkouts never share binaries). Results: bench/results/
# (gitignored).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
bin="${BENCH_BIN:-$root/.bin/bench}"
mode=()
for arg in "$@"; do
	case "$arg" in
	--quick) mode+=(-quick) ;;
	--profile) mode+=(-profile) ;;
	--systems=* | --workloads=* | --modes=* | --reps=* | --rate=* | --sluice-config=*) mode+=("-${arg#--}") ;;
	-h | --help)
		sed -n '2,22p' "$0"
		exit 0
		;;
	*)
		echo "bench/run.sh: unknown argument $arg (want --quick or --profile)" >&2
		exit 2
		;;
	esac
done

if ! command -v h2load >/dev/null; then
	echo "bench: installing h2load (nghttp2-client)" >&2
	sudo=()
	if [[ $(id -u) != 0 ]]; then sudo=(sudo); fi
	"${sudo[@]}" apt-get update -qq
	DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq nghttp2-client >/dev/null
fi

# Every error a call returns is counted against the system measured, so the
# load generator's own gRPC client must not fail calls by itself (as ghz
# with grpc-go before 1.49 did at 64 KiB; see bench/tools/client_test.go).
echo "bench: checking the gRPC client ghz links" >&2
(cd bench/tools && go test ./... >&2)

mkdir -p "$bin"
echo "bench: building sluice, the comparison gateways and ghz into $bin" >&2
(cd bench/tools && GOBIN="$bin" go install tool)
go build -o "$bin/sluice" ./cmd/sluice
# -mod=mod: bench/ replaces sluice with ../, so a dependency the lead adds
# to sluice reaches bench/go.sum without a manual tidy.
(cd bench && go build -mod=mod -o "$bin/" ./cmd/...)

command="bench/run.sh${*:+ $*}"
exec timeout --signal=INT --kill-after=30s 15m \
	"$bin/benchrun" "${mode[@]}" -root "$root" -bin "$bin" -out "$root/bench/results" -command "$command"
