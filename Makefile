# paddle-operator: one build, one test command.
#
# Each part keeps its own targets in mk/<nn>-<part>.mk and registers them through the
# variables below; this file only ties them together. Every target installs what it is
# missing (npm packages, apt packages, Python packages), so `make test` works on a fresh clone.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

ROOT := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))
CACHE_DIR ?= $(HOME)/.cache/paddle-operator
NPM_STAMP := node_modules/.installed
MOCHA := npx mocha --import=tsx --reporter=dot
export CACHE_DIR

BUILD_TARGETS :=
UNIT_TEST_TARGETS :=
TEST_TARGETS :=
CLEAN_TARGETS :=

include $(sort $(wildcard mk/*.mk))

.PHONY: help build build-ts test test-unit lint clean bench fuzz

bench: ## run every benchmark (figures and ratios, never pass/fail timings)

fuzz: ## run every fuzz harness for a bounded time

help: ## list the targets
	@grep -hE '^[a-zA-Z0-9_.-]+:.*## ' $(MAKEFILE_LIST) | sort -u | awk -F':.*## ' '{printf "  %-24s %s\n", $$1, $$2}'

$(NPM_STAMP): package.json package-lock.json
	@echo "==> installing npm packages"
	@if [ "$${CI:-}" = "true" ]; then npm ci --no-audit --no-fund; else npm install --no-audit --no-fund; fi
	@touch $@

build: $(NPM_STAMP) $(BUILD_TARGETS) build-ts ## build everything (addon, TypeScript)

build-ts: $(NPM_STAMP) ## compile the TypeScript parts to dist/ (the CRD travels with crds/src; the operator also as one bundled module)
	npx tsc -p tsconfig.build.json
	mkdir -p dist/crds && cp crds/*.yaml dist/crds/
	mkdir -p dist/sidecar/proto && cp sidecar/proto/*.proto dist/sidecar/proto/
	$(OPERATOR_BUNDLE_CMD)

lint: $(NPM_STAMP) ## type-check and lint
	npx tsc --noEmit -p tsconfig.json
	npx eslint --max-warnings=0 .

test-unit: $(NPM_STAMP) $(UNIT_TEST_TARGETS) ## run every unit test suite

test: lint test-unit $(TEST_TARGETS) ## run every test suite (unit, native, e2e, chart)

clean: $(CLEAN_TARGETS) ## remove build outputs
	rm -rf dist build
