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

.PHONY: tools generate lint-proto

# Installs every tool of tools/go.mod into .bin.
tools:
	cd tools && GOBIN=$(BIN) go install tool

$(GEN_TOOLS) &:
	cd tools && GOBIN=$(BIN) go install tool

# Regenerates everything derived from the contracts: third_party/googleapis
# (from the pinned npm package), gen/go, gen/openapiv2 and the descriptor set
# gen/descriptors/demo.binpb (the demo API with all its imports, loadable on
# its own). Running it twice gives no diff.
generate: $(GEN_TOOLS)
	./scripts/googleapis/fetch.sh
	$(BUF) generate
	mkdir -p gen/descriptors
	$(BUF) build proto --as-file-descriptor-set -o gen/descriptors/demo.binpb

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
