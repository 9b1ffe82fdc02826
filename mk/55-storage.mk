# Model storage: the real S3 server the tests start (e2e/tools/s3server: rclone/gofakes3 with
# SigV4 authentication, built from the Go module proxy at the version its go.mod pins, cached
# under $(CACHE_DIR)/bin/s3server-<version>-<source hash>/). The tests call the same build.sh,
# so running one by hand builds it too.
.PHONY: s3-server

s3-server: ## build the S3 test server (once per source hash)
	CACHE_DIR=$(CACHE_DIR) e2e/tools/s3server/build.sh >/dev/null

# The walkthrough (docs/walkthrough.md) exports its model with the pinned Paddle of the fixtures.
.PHONY: paddle-python
paddle-python: fixtures-venv ## print the pinned Paddle venv's python (installs it once)
	@echo $(FIXTURES_PY)

# Docs: every Markdown link stays inside the repository and resolves (docs/test/).
.PHONY: test-docs
UNIT_TEST_TARGETS += test-docs

test-docs: $(NPM_STAMP) ## Markdown links point inside the repository, at files that exist
	$(MOCHA) --timeout 120000 'docs/test/**/*.test.ts'
