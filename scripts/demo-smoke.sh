#!/usr/bin/env bash
# The README's first command, checked: `sluice serve` with no flags runs the
# embedded demo on 127.0.0.1:8080 (admin 127.0.0.1:9090) and answers
# grpcurl, both through reflection and with the committed descriptor set,
# and curl's hand-framed gRPC-Web calls; SIGTERM ends it with exit code 0.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=$PWD/.bin
[[ -x $BIN/grpcurl ]] || (cd tools && GOBIN=$BIN go install tool)
go build -o "$BIN/sluice" ./cmd/sluice

for port in 8080 9090; do
	if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
		echo "demo-smoke: port $port is in use; the demo needs it" >&2
		exit 1
	fi
done

log=$(mktemp)
"$BIN/sluice" serve >"$log.out" 2>"$log" &
pid=$!
trap 'kill $pid 2>/dev/null || true; rm -f "$log" "$log.out"' EXIT
for _ in $(seq 1 100); do
	curl -sf http://127.0.0.1:9090/readyz >/dev/null 2>&1 && break
	sleep 0.1
done

passed=0
failed=0
check() {
	local name=$1
	shift
	local out
	if out=$("$@" 2>&1); then
		echo "--- PASS: demo-smoke/$name"
		passed=$((passed + 1))
	else
		echo "--- FAIL: demo-smoke/$name"
		echo "$out" | sed 's/^/    /'
		failed=$((failed + 1))
	fi
}
contains() { local want=$1; shift; "$@" | grep -q -- "$want"; }

check readyz curl -sf http://127.0.0.1:9090/readyz
check list-by-reflection contains sluice.demo.library.v1.LibraryService "$BIN/grpcurl" -plaintext 127.0.0.1:8080 list
check call-with-protoset contains moby-dick "$BIN/grpcurl" -plaintext -protoset gen/descriptors/demo.binpb \
	-d '{"name":"shelves/classics/books/moby-dick"}' 127.0.0.1:8080 sluice.demo.library.v1.LibraryService/GetBook
check call-by-reflection contains '"books"' "$BIN/grpcurl" -plaintext -d '{"parent":"shelves/classics"}' \
	127.0.0.1:8080 sluice.demo.library.v1.LibraryService/ListBooks
# The README's gRPC-Web calls: a hand-framed GetShelf, binary and text.
check grpc-web contains 'grpc-status: 0' bash -c "printf '\\x00\\x00\\x00\\x00\\x0f\\x0a\\x0dshelves/scifi' | curl -s --data-binary @- \
	-H 'Content-Type: application/grpc-web+proto' http://127.0.0.1:8080/sluice.demo.library.v1.LibraryService/GetShelf | tr -c '[:print:]' '.'"
check grpc-web-text contains 'Science fiction' bash -c "printf '\\x00\\x00\\x00\\x00\\x0f\\x0a\\x0dshelves/scifi' | base64 | curl -s --data-binary @- \
	-H 'Content-Type: application/grpc-web-text' http://127.0.0.1:8080/sluice.demo.library.v1.LibraryService/GetShelf | base64 -d | tr -c '[:print:]' '.'"
check connect-post contains '"displayName":"Science fiction"' curl -sf -H 'Content-Type: application/json' \
	-d '{"name":"shelves/scifi"}' http://127.0.0.1:8080/sluice.demo.library.v1.LibraryService/GetShelf
check connect-get contains moby-dick curl -sf \
	'http://127.0.0.1:8080/sluice.demo.library.v1.LibraryService/GetBook?connect=v1&encoding=json&message=%7B%22name%22%3A%22shelves%2Fclassics%2Fbooks%2Fmoby-dick%22%7D'
check gateway-health contains SERVING "$BIN/grpcurl" -plaintext 127.0.0.1:8080 grpc.health.v1.Health/Check
check tour-printed grep -q "grpcurl -plaintext" "$log.out"

kill -TERM $pid
code=0
wait $pid || code=$?
trap 'rm -f "$log" "$log.out"' EXIT
if ((code == 0)); then
	echo "--- PASS: demo-smoke/sigterm-exit-0"
	passed=$((passed + 1))
else
	echo "--- FAIL: demo-smoke/sigterm-exit-0 (exit $code)"
	failed=$((failed + 1))
fi
echo "demo-smoke: $passed passed, $failed failed"
if ((failed > 0)); then
	cat "$log"
	exit 1
fi
