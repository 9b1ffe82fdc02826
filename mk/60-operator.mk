# operator/: the PaddleService controller.
.PHONY: test-operator run-operator bench-operator bench-fleet-rates
UNIT_TEST_TARGETS += test-operator

test-operator: $(NPM_STAMP) ## unit tests of the operator (queue, leader election, builders, status)
	$(MOCHA) --timeout 120000 'operator/test/**/*.test.ts'

run-operator: $(NPM_STAMP) ## run the operator against $$KUBECONFIG (default: the local control plane)
	KUBECONFIG=$${KUBECONFIG:-$(ROOT)/e2e/.cluster/kubeconfig} npx tsx operator/src/main.ts

# The operator as one ES module, what the image runs (from build-ts's output): it loads only the
# parts of its packages it uses. `node dist/operator/src/main.js` loads all of
# @kubernetes/client-node's generated API (KubeConfig imports it), whose sources V8 keeps in the
# heap: about 20 MB more heap and 40 MB more RSS before the first object is cached. CommonJS
# packages inside call require() for node built-ins: the banner gives the module one.
OPERATOR_BUNDLE := dist/operator/main.js
OPERATOR_BUNDLE_CMD = npx esbuild dist/operator/src/main.js --bundle --platform=node --format=esm --target=node20 \
	--log-level=warning --outfile=$(OPERATOR_BUNDLE) \
	--banner:js="import { createRequire as paddleCreateRequire } from 'node:module'; const require = paddleCreateRequire(import.meta.url);"

# Needs the local control plane: starts it when none runs and stops it only if it started it.
# BENCH_OPERATOR_SIZES (200 1000): the converge runs; BENCH_OPERATOR_READY (1000; 0 skips it):
# PaddleServices of the time-to-Ready run (bench/operator/ready.ts).
BENCH_OPERATOR_READY ?= 1000
bench: bench-operator
bench-operator: $(NPM_STAMP) build-ts ## operator: 200 and 1000 PaddleServices (converge time, no-op writes, RSS), then time to Ready of 1000 with pods
	@started=false; \
	if ! $(E2E_ENV) e2e/cluster/status.sh >/dev/null 2>&1; then \
	  $(E2E_ENV) e2e/cluster/up.sh; started=true; fi; \
	rc=0; uptime; KUBECONFIG=$(ROOT)/e2e/.cluster/kubeconfig npx tsx bench/operator/converge.ts $(BENCH_OPERATOR_SIZES) || rc=$$?; \
	if [ "$(BENCH_OPERATOR_READY)" != 0 ]; then uptime; KUBECONFIG=$(ROOT)/e2e/.cluster/kubeconfig npx tsx bench/operator/ready.ts $(BENCH_OPERATOR_READY) || rc=$$?; fi; \
	uptime; \
	if [ "$$started" = true ]; then $(E2E_ENV) e2e/cluster/down.sh; fi; \
	exit $$rc

bench-fleet-rates: $(NPM_STAMP) ## fleet-wide rate limits: error of the 1/replicas share at 1, 3 and 10 replicas (simulated routing, real limiter)
	npx tsx bench/operator/fleet-rates.ts
