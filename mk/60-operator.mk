# operator/: the PaddleService controller.
.PHONY: test-operator run-operator bench-operator
UNIT_TEST_TARGETS += test-operator

test-operator: $(NPM_STAMP) ## unit tests of the operator (queue, leader election, builders, status)
	$(MOCHA) --timeout 10000 'operator/test/**/*.test.ts'

run-operator: $(NPM_STAMP) ## run the operator against $$KUBECONFIG (default: the local control plane)
	KUBECONFIG=$${KUBECONFIG:-$(ROOT)/e2e/.cluster/kubeconfig} npx tsx operator/src/main.ts

# Needs the local control plane: starts it when none runs and stops it only if it started it.
bench: bench-operator
bench-operator: $(NPM_STAMP) build-ts ## operator: 200 and 1000 PaddleServices (converge time, no-op writes, RSS)
	@started=false; \
	if ! $(E2E_ENV) e2e/cluster/status.sh >/dev/null 2>&1; then \
	  $(E2E_ENV) e2e/cluster/up.sh; started=true; fi; \
	rc=0; KUBECONFIG=$(ROOT)/e2e/.cluster/kubeconfig npx tsx bench/operator/converge.ts $(BENCH_OPERATOR_SIZES) || rc=$$?; \
	if [ "$$started" = true ]; then $(E2E_ENV) e2e/cluster/down.sh; fi; \
	exit $$rc
