# sluice build entry points. Tools are pinned in tools/go.mod and installed
# into .bin, so every machine runs the same versions.

SHELL := /usr/bin/env bash
.SHELLFLAGS := -euo pipefail -c

BIN := $(CURDIR)/.bin
BUF := $(BIN)/buf
# Every binary `make generate` needs; missing ones trigger an install.
GEN_TOOLS := $(BUF) $(BIN)/protoc-gen-go $(BIN)/protoc-gen-go-grpc \
	$(BIN)/protoc-gen-grpc-gateway $(BIN)/protoc-gen-openapiv2

# The branch `buf breaking` compares against.
BREAKING_BRANCH ?= main

.PHONY: tools generate lint-proto test lint lint-openapi check-generate check build corpora conformance browser-deps

# Installs every tool of tools/go.mod into .bin.
tools:
	cd tools && GOBIN=$(BIN) go install tool

$(GEN_TOOLS) &:
	cd tools && GOBIN=$(BIN) go install tool

# Regenerates everything derived from the contracts: third_party/googleapis
# (from the pinned npm package), gen/go, gen/openapiv2 and the descriptor set
# gen/descriptors/demo.binpb (the demo API with all its imports, loadable on
# its own), gen/gwexamples (grpc-gateway's example protos at the pinned
# version, for the REST differential test; scripts/gwexamples/generate.sh,
# after buf.gen.yaml's run, whose clean would not touch it anyway), and
# gen/conformance with gen/descriptors/conformance.binpb (connectrpc's
# conformance protos at the version the harness runs;
# scripts/conformance/generate.sh), and the API explorer's Swagger UI build
# in server/explorer/dist (from the pinned npm package;
# scripts/explorer/fetch.sh). Running it twice gives no diff.
generate: $(GEN_TOOLS)
	./scripts/googleapis/fetch.sh
	./scripts/explorer/fetch.sh
	$(BUF) generate
	mkdir -p gen/descriptors
	$(BUF) build proto --as-file-descriptor-set -o gen/descriptors/demo.binpb
	cp gen/descriptors/demo.binpb demo/library.binpb
	./scripts/gwexamples/generate.sh
	./scripts/conformance/generate.sh

# Lints the contracts and checks them for wire and JSON breaking changes
# against $(BREAKING_BRANCH). The check is skipped while that branch has no
# proto/ yet (nothing to break).
lint-proto: $(BUF)
	$(BUF) format --diff --exit-code proto
	$(BUF) lint
	if [[ -n "$$(git ls-tree -d $(BREAKING_BRANCH) proto 2>/dev/null)" ]]; then \
		$(BUF) breaking --against '.git#branch=$(BREAKING_BRANCH)'; \
	else \
		echo "lint-proto: $(BREAKING_BRANCH) has no proto/ yet, skipping buf breaking"; \
	fi

# The test command (README): every Go test, with the race detector (the
# gateway is concurrent through and through; the benchmark module's too,
# such as the h2relay comparison system's), then the tests over the
# contract corpora (`make corpora`; Google's set costs gigabytes under the
# race detector, so they run again without it), then grpc-go's interop suite
# through a real sluice binary, then the README's demo command checked with
# grpcurl, then connectrpc's conformance suite through a real sluice, one
# run per protocol (scripts/conformance/run.sh). The Go tests include the
# headless-Chromium test of e2e/browser, whose npm packages browser-deps
# installs first.
test: browser-deps
	go test -race -count=1 -timeout 10m ./...
	cd bench && go test -race -count=1 -timeout 5m -mod=mod ./...
	go test -count=1 -timeout 10m -run 'Corpora' ./transcoding ./cmd/sluice
	./scripts/interop.sh
	./scripts/demo-smoke.sh
	./scripts/conformance/run.sh

# The pinned npm packages of the browser test (e2e/browser: connect-web,
# grpc-web, esbuild), from its package-lock.json.
browser-deps:
	cd e2e/browser && npm ci --no-audit --no-fund --loglevel=error

# connectrpc's conformance suite alone; CONFORMANCE=grpc-web for one
# protocol.
conformance:
	./scripts/conformance/run.sh $(CONFORMANCE)

build:
	go build -o $(BIN)/sluice ./cmd/sluice

# Builds the contract corpora the REST routing is tested and measured
# against (Google's published APIs, grpc-gateway's examples) into
# scripts/corpora/out, git-ignored. Tests that need them skip without them.
corpora: $(BUF)
	./scripts/corpora/build.sh

# gofmt, go vet and staticcheck over our code (gen/ is the generator's).
lint: $(BIN)/staticcheck
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' | grep -v '^gen/')); \
	if [[ -n "$$unformatted" ]]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	go vet ./...
	$(BIN)/staticcheck ./...
	cd bench && go vet -mod=mod ./... && $(BIN)/staticcheck ./...

$(BIN)/staticcheck:
	cd tools && GOBIN=$(BIN) go install tool

# Lints the OpenAPI documents sluice generates (the demo's, as `sluice
# openapi` prints it, and the golden files of openapi/testdata) with the
# pinned Redocly CLI and its recommended rules: any error fails.
lint-openapi:
	./scripts/openapi-lint/lint.sh

# Regenerates gen/ and third_party/ and fails if anything differs from what
# is committed.
check-generate: generate
	@if [[ -n "$$(git status --porcelain -- gen third_party demo/library.binpb server/explorer/dist)" ]]; then \
		echo "generated files differ from a fresh 'make generate':"; git status --porcelain -- gen third_party demo/library.binpb server/explorer/dist; \
		git diff --stat -- gen third_party demo/library.binpb server/explorer/dist; exit 1; fi

# Everything CI checks besides the tests.
check: check-generate lint-proto lint lint-openapi

.PHONY: bench bench-go soak

# The side-by-side benchmark against grpc-gateway, a plain gRPC proxy and
# direct calls (docs/benchmarks.md); BENCH_FLAGS=--quick for the short run,
# --profile for CPU and allocation profiles of sluice under load.
bench:
	./bench/run.sh $(BENCH_FLAGS)

# The Go benchmarks of the hot paths (proxying, route matching, request
# binding, JSON encoding, REST end to end against grpc-gateway), five runs
# each, into a file benchstat reads: `benchstat old.txt new.txt`.
BENCH_GO_OUT ?= bench/results/go-bench.txt
bench-go:
	mkdir -p $(dir $(BENCH_GO_OUT))
	go test -run '^$$' -bench . -benchmem -count 5 ./server ./transcoding/... ./e2e | tee $(BENCH_GO_OUT)

# The soak (issue 17, not in CI): 10 minutes of mixed REST and gRPC load on
# two sluice processes while the upstream, Redis and one gateway are
# stopped and restarted and contracts reload; fails on any unexpected
# error or memory growth. SOAK_FLAGS='--duration 60s' for a short run.
soak:
	./scripts/soak.sh $(SOAK_FLAGS)
