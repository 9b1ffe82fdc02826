# e2e/: the local control plane (real etcd, kube-apiserver, kube-controller-manager,
# kube-scheduler, kubectl built from the Go module proxy; kwok fake GPU nodes) and the e2e suites.
.PHONY: e2e-tools e2e-tools-mod images cluster-up cluster-down cluster-leftovers test-e2e test-e2e-unit clean-e2e

E2E_ENV := PADDLE_OPERATOR_CACHE=$(CACHE_DIR)
E2E_MOCHA := npx mocha --import=tsx --reporter=spec

UNIT_TEST_TARGETS += test-e2e-unit
TEST_TARGETS += test-e2e
CLEAN_TARGETS += clean-e2e

e2e-tools: ## build (once, cached by version) etcd, kube-*, kubectl, kubelet, kwok, helm
	$(E2E_ENV) e2e/tools/build.sh all

e2e-tools-mod: ## regenerate e2e/tools/*/go.mod from e2e/tools/versions.env
	e2e/tools/gen-mods.sh

images: $(NPM_STAMP) build-native build-ts ## build the sidecar, operator and pause images here (no container engine; cached by content)
	$(E2E_ENV) images/build.sh pause sidecar operator

# The real node runs the sidecar image, built from the addon and dist/ (E2E_REAL_NODE=0: no node).
cluster-up: $(NPM_STAMP) build-native build-ts ## start the local e2e cluster with its real node (reuses a running one)
	$(E2E_ENV) e2e/cluster/up.sh

cluster-down: ## stop every process of the local e2e cluster and remove its real node
	$(E2E_ENV) e2e/cluster/down.sh

cluster-leftovers: ## check that nothing of the real node is left (after cluster-down)
	$(E2E_ENV) e2e/cluster/leftovers.sh

test-e2e-unit: $(NPM_STAMP) ## unit tests of the e2e scaffolding and test issuer (no cluster)
	$(MOCHA) --timeout 120000 'e2e/test/**/*.test.ts'

# Brings the cluster up when none runs, runs the suites, and brings it down only if it started it.
test-e2e: $(NPM_STAMP) build-native build-ts ## run the e2e suites against the local cluster (the sidecar suites run the real addon; the real-node suites the sidecar image)
	@started=false; \
	if ! $(E2E_ENV) e2e/cluster/status.sh >/dev/null 2>&1; then \
	  $(E2E_ENV) e2e/cluster/up.sh; started=true; \
	else echo "[e2e] using the running e2e cluster"; fi; \
	rc=0; KUBECONFIG=$(ROOT)/e2e/.cluster/kubeconfig $(E2E_ENV) $(E2E_MOCHA) --timeout 120000 'e2e/test/**/*.e2e.ts' || rc=$$?; \
	if [ "$$started" = true ]; then $(E2E_ENV) e2e/cluster/down.sh; $(E2E_ENV) e2e/cluster/leftovers.sh || rc=1; fi; \
	exit $$rc

clean-e2e: cluster-down
	rm -rf e2e/.cluster
