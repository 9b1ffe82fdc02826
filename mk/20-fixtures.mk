# native/fixtures/: models made by real Paddle, Paddle's outputs, test-only signing keys.
#   make fixtures              regenerate every model, output and signature (not part of test)
#   make test-fixtures         checks on the committed fixtures: Python stdlib + openssl only
#   make test-fixtures-oracle  signer tests, then re-run the pinned Paddle on the committed
#                              models and compare with the committed outputs
# Paddle lives in a venv under $(CACHE_DIR), keyed by the hash of requirements.txt.
.PHONY: fixtures fixtures-venv test-fixtures test-fixtures-oracle

UNIT_TEST_TARGETS += test-fixtures
TEST_TARGETS += test-fixtures-oracle

FIXTURES_DIR := native/fixtures
FIXTURES_CACHE := $(or $(CACHE_DIR),$(HOME)/.cache/paddle-operator)
FIXTURES_REQ_KEY := $(shell sha256sum $(FIXTURES_DIR)/requirements.txt 2>/dev/null | cut -c1-12)
FIXTURES_PADDLE := $(shell sed -n 's/^paddlepaddle==//p' $(FIXTURES_DIR)/requirements.txt 2>/dev/null)
FIXTURES_VENV := $(FIXTURES_CACHE)/venv-paddle-$(FIXTURES_PADDLE)-$(FIXTURES_REQ_KEY)
FIXTURES_PY := $(FIXTURES_VENV)/bin/python
FIXTURES_STAMP := $(FIXTURES_VENV)/.installed

# Python 3 with venv + pip, openssl and sha256sum: apt-get them when missing (CI runs as root).
define fixtures_system_tools
	@missing=""; \
	command -v python3 >/dev/null || missing="$$missing python3 python3-venv python3-pip"; \
	command -v openssl >/dev/null || missing="$$missing openssl"; \
	command -v sha256sum >/dev/null || missing="$$missing coreutils"; \
	if [ -n "$$missing" ]; then \
	  echo "==> apt-get install$$missing"; apt-get update -qq && apt-get install -y -qq $$missing; \
	fi
endef

$(FIXTURES_STAMP): $(FIXTURES_DIR)/requirements.txt
	$(fixtures_system_tools)
	@if ! python3 -c 'import ensurepip, venv' 2>/dev/null; then \
	  echo "==> apt-get install python3-venv"; apt-get update -qq && apt-get install -y -qq python3-venv; \
	fi
	@echo "==> Python venv for the fixtures: $(FIXTURES_VENV)"
	@[ -x $(FIXTURES_PY) ] || python3 -m venv $(FIXTURES_VENV)
	$(FIXTURES_PY) -m pip install -q --disable-pip-version-check -r $(FIXTURES_DIR)/requirements.txt
	@touch $@

fixtures-venv: $(FIXTURES_STAMP) ## install the pinned paddlepaddle (venv under the cache dir)

fixtures: $(FIXTURES_STAMP) ## regenerate the Paddle fixture models, outputs and signatures
	$(FIXTURES_PY) $(FIXTURES_DIR)/make_fixtures.py
	python3 $(FIXTURES_DIR)/check_signatures.py
	@du -sh $(FIXTURES_DIR)

test-fixtures: ## fixture checks without Paddle (layout, cases, pdiparams records, openssl signatures)
	$(fixtures_system_tools)
	python3 -m unittest $(FIXTURES_DIR)/test_fixtures.py

test-fixtures-oracle: $(FIXTURES_STAMP) ## signer tests + re-run the pinned Paddle on the committed fixtures
	$(FIXTURES_PY) -m unittest $(FIXTURES_DIR)/test_sign_model.py
	$(FIXTURES_PY) $(FIXTURES_DIR)/oracle_check.py
