# operator/: the PaddleService controller.
.PHONY: test-operator run-operator bench-operator
UNIT_TEST_TARGETS += test-operator

test-operator: $(NPM_STAMP) ## unit tests of the operator (queue, leader election, builders, status)
	$(MOCHA) 'operator/test/**/*.test.ts'

run-operator: $(NPM_STAMP) ## run the operator against $$KUBECONFIG (default: the local control plane)
	KUBECONFIG=$${KUBECONFIG:-$(ROOT)/e2e/.cluster/kubeconfig} npx tsx operator/src/main.ts
