#!/usr/bin/env bash
# make soak (issue 17): 10 minutes of mixed REST and gRPC load against two
# real `sluice serve` processes in front of `sluice demo-upstream`, with
# global rate limits in a real Redis, while the upstream and Redis are
# killed and restarted, contracts are reloaded and one gateway is stopped
# with SIGTERM and restarted. Not in CI: it is long and CPU-heavy.
#
#   scripts/soak.sh                    the 10-minute run
#   scripts/soak.sh --duration 60s     a short run, to work on the soak itself
#   scripts/soak.sh -h                 every flag (rate, workers, thresholds)
#
# It builds sluice and the soak driver (bench/cmd/soak) into .bin/soak and
# installs redis-server with apt when it is missing. The report is printed
# and written to bench/results/soak-*.txt; the exit status is 1 on any
# unexpected error or on memory growth (the rule is in bench/cmd/soak).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
bin="$root/.bin/soak"

if ! command -v redis-server >/dev/null; then
	echo "soak: installing redis-server" >&2
	sudo=()
	if [[ $(id -u) != 0 ]]; then sudo=(sudo); fi
	"${sudo[@]}" apt-get update -qq
	DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq redis-server >/dev/null
fi

mkdir -p "$bin"
echo "soak: building sluice and the soak driver into $bin" >&2
go build -o "$bin/sluice" ./cmd/sluice
# -mod=mod: bench/ replaces sluice with ../ (see bench/run.sh).
(cd bench && go build -mod=mod -o "$bin/soak" ./cmd/soak)

# Go's flag package takes --duration as well as -duration.
exec "$bin/soak" -bin "$bin/sluice" -descriptor-set gen/descriptors/demo.binpb -out bench/results "$@"
