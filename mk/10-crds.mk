# crds/: the PaddleService API (CRD, types, defaults, validator).
.PHONY: test-crds
UNIT_TEST_TARGETS += test-crds

test-crds: $(NPM_STAMP) ## unit tests of the PaddleService API
	$(MOCHA) --timeout=120000 'crds/test/**/*.test.ts'
