#!/usr/bin/env bash
# Runs grpc-go's interop client against grpc-go's interop server with
# sluice in between, for every test case a proxy can carry.
#
#   scripts/interop.sh            # builds what it needs into .bin/
#
# Everything listens on 127.0.0.1 and is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BIN=$ROOT/.bin
mkdir -p "$BIN"

GRPC_VERSION=$(go list -m -f '{{.Version}}' google.golang.org/grpc)
if [[ ! -x $BIN/interop-server-$GRPC_VERSION || ! -x $BIN/interop-client-$GRPC_VERSION ]]; then
	echo "interop: installing grpc-go $GRPC_VERSION interop server and client"
	tmp=$(mktemp -d)
	GOBIN=$tmp go install "google.golang.org/grpc/interop/server@$GRPC_VERSION" "google.golang.org/grpc/interop/client@$GRPC_VERSION"
	mv "$tmp/server" "$BIN/interop-server-$GRPC_VERSION"
	mv "$tmp/client" "$BIN/interop-client-$GRPC_VERSION"
	rmdir "$tmp"
fi
go build -o "$BIN/sluice" ./cmd/sluice

free_port() {
	local port
	while :; do
		port=$((20000 + RANDOM % 40000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			echo "$port"
			return
		fi
	done
}

UPSTREAM_PORT=$(free_port)
GATEWAY_PORT=$(free_port)
ADMIN_PORT=$(free_port)
LOGS=$(mktemp -d)
pids=()
cleanup() {
	for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
	wait 2>/dev/null || true
}
trap cleanup EXIT

"$BIN/interop-server-$GRPC_VERSION" --port="$UPSTREAM_PORT" >"$LOGS/upstream.log" 2>&1 &
pids+=($!)
"$BIN/sluice" serve --listen "127.0.0.1:$GATEWAY_PORT" --admin "127.0.0.1:$ADMIN_PORT" \
	--upstream "grpc.testing.*=127.0.0.1:$UPSTREAM_PORT" --log-level warn >"$LOGS/sluice.log" 2>&1 &
pids+=($!)

# Ready when the gateway has connected to the interop server.
for _ in $(seq 1 100); do
	if curl -sf "http://127.0.0.1:$ADMIN_PORT/readyz" >/dev/null 2>&1; then break; fi
	sleep 0.1
done
curl -sf "http://127.0.0.1:$ADMIN_PORT/readyz" >/dev/null || { echo "interop: sluice never became ready"; cat "$LOGS"/*.log; exit 1; }

cases=(empty_unary large_unary client_streaming server_streaming ping_pong empty_stream
	timeout_on_sleeping_server cancel_after_begin cancel_after_first_response custom_metadata
	status_code_and_message special_status_message unimplemented_method unimplemented_service)
passed=0
failed=0
run_case() {
	local name=$1
	shift
	if timeout 120 "$BIN/interop-client-$GRPC_VERSION" --server_host=127.0.0.1 --server_port="$GATEWAY_PORT" \
		--test_case="$name" "$@" >"$LOGS/client-$name.log" 2>&1; then
		echo "--- PASS: interop/$name"
		passed=$((passed + 1))
	else
		echo "--- FAIL: interop/$name"
		sed 's/^/    /' "$LOGS/client-$name.log" | tail -20
		failed=$((failed + 1))
	fi
}
for c in "${cases[@]}"; do run_case "$c"; done
for c in rpc_soak channel_soak; do
	run_case "$c" --soak_iterations=100 --soak_max_failures=0 \
		--soak_per_iteration_max_acceptable_latency_ms=2000 --soak_overall_timeout_seconds=60
done
echo "interop: $passed passed, $failed failed"
if ((failed > 0)); then
	echo "sluice log:"; tail -50 "$LOGS/sluice.log"
	exit 1
fi
