# charts/: the Helm chart (charts/paddle-operator) and its tests.
#   make test-chart        helm lint --strict (default values and every option set), then the
#                          chart's unit tests (charts/test: values <-> schema, CRD copy, rendered
#                          objects, PromQL parsed by Prometheus's parser against the metric names
#                          the sidecar and the operator register, RBAC vs the operator, images)
#   make test-chart-e2e    only the chart's suites against the local cluster
#                          (e2e/test/chart-*.e2e.ts: server-side dry-run, install / upgrade /
#                          uninstall, the operator under exactly the chart's RBAC); `make
#                          test-e2e` runs them with the other e2e suites
#   make chart-sync-crds   copy crds/*.yaml into the chart (helm reads only files inside it)
#   make chart-package     helm package into dist/charts/
#   make chart-docs        regenerate the README parameters table from values.yaml
.PHONY: test-chart test-chart-e2e chart-lint chart-tools chart-sync-crds chart-package chart-docs

TEST_TARGETS += test-chart

CHART_DIR := charts/paddle-operator
CHART_CRD := serving.paddle.io_paddleservices.yaml
CHART_HELM_VERSION := $(shell sed -n 's/^HELM_VERSION=//p' e2e/tools/versions.env)
CHART_HELM := $(CACHE_DIR)/bin/helm-$(CHART_HELM_VERSION)/helm
# promql-check (charts/test/promql): Prometheus's own PromQL parser, built once per source hash.
CHART_PROMQL_SRC := charts/test/promql/main.go charts/test/promql/go.mod charts/test/promql/go.sum
CHART_PROMQL_KEY := $(shell cat $(CHART_PROMQL_SRC) 2>/dev/null | sha256sum | cut -c1-12)
CHART_PROMQL_CHECK := $(CACHE_DIR)/bin/promql-check-$(CHART_PROMQL_KEY)/promql-check
CHART_TEST_ENV := HELM=$(CHART_HELM) PROMQL_CHECK=$(CHART_PROMQL_CHECK) $(E2E_ENV)

$(CHART_HELM):
	$(E2E_ENV) e2e/tools/build.sh helm

$(CHART_PROMQL_CHECK): $(CHART_PROMQL_SRC)
	@echo "==> building promql-check (Prometheus's PromQL parser) into $(dir $@)"
	@command -v go >/dev/null || { echo "go is required to build promql-check" >&2; exit 1; }
	mkdir -p $(dir $@)
	cd charts/test/promql && GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=readonly go build -trimpath -o $@.tmp .
	mv $@.tmp $@

chart-tools: $(CHART_HELM) $(CHART_PROMQL_CHECK)

chart-sync-crds: ## copy crds/*.yaml into the chart's files/crds/ (a test fails when they differ)
	cp crds/$(CHART_CRD) $(CHART_DIR)/files/crds/$(CHART_CRD)

chart-lint: $(CHART_HELM) ## helm lint --strict with the default values and with every option set
	$(CHART_HELM) lint --strict $(CHART_DIR)
	$(CHART_HELM) lint --strict $(CHART_DIR) -f charts/test/values/all-options.yaml

test-chart: $(NPM_STAMP) chart-tools chart-lint ## chart tests: lint, values/schema, CRD copy, PromQL, RBAC, images
	$(CHART_TEST_ENV) $(MOCHA) --timeout 120000 'charts/test/**/*.test.ts'

test-chart-e2e: $(NPM_STAMP) $(CHART_HELM) ## the chart's e2e suites only, against the local cluster
	@started=false; \
	if ! $(E2E_ENV) e2e/cluster/status.sh >/dev/null 2>&1; then \
	  $(E2E_ENV) e2e/cluster/up.sh; started=true; \
	else echo "[chart] using the running e2e cluster"; fi; \
	rc=0; KUBECONFIG=$(ROOT)/e2e/.cluster/kubeconfig $(CHART_TEST_ENV) $(E2E_MOCHA) --timeout 180000 'e2e/test/chart-*.e2e.ts' || rc=$$?; \
	if [ "$$started" = true ]; then $(E2E_ENV) e2e/cluster/down.sh; fi; \
	exit $$rc

chart-package: $(CHART_HELM) ## package the chart into dist/charts/
	mkdir -p dist/charts
	$(CHART_HELM) package $(CHART_DIR) -d dist/charts

chart-docs: $(NPM_STAMP) ## regenerate the parameters table of the chart's README from values.yaml
	npx tsx charts/scripts/values-table.ts --write
