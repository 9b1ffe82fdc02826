# clients/: the standard Python inference clients (tritonclient http + grpc, kserve, numpy) that tests
# use against the sidecar. A venv under $(CACHE_DIR), keyed by the hash of clients/requirements.txt,
# so a changed pin gets a new venv and an unchanged one is reused (warm: no network, ~0 s).
#   make clients-venv     install (once per requirements hash) and print the interpreter's path
# Tests find the interpreter through $PADDLE_CLIENTS_PYTHON (exported below for every target of
# this Makefile) or, run outside make, through clients/python-path.ts (the same hash rule).
.PHONY: clients-venv

CLIENTS_REQ := clients/requirements.txt
CLIENTS_CACHE := $(or $(CACHE_DIR),$(HOME)/.cache/paddle-operator)
CLIENTS_REQ_KEY := $(shell sha256sum $(CLIENTS_REQ) 2>/dev/null | cut -c1-12)
CLIENTS_VENV := $(CLIENTS_CACHE)/venv-clients-$(CLIENTS_REQ_KEY)
CLIENTS_PY := $(CLIENTS_VENV)/bin/python
CLIENTS_STAMP := $(CLIENTS_VENV)/.installed
export PADDLE_CLIENTS_PYTHON := $(CLIENTS_PY)

# python3 with venv + pip: apt-get them when missing (CI runs as root). The install is locked with
# flock, so two worktrees (or two make runs) never write the same venv at once. tritonclient.grpc
# and kserve each register the inference.* protos in protobuf's default pool, so one process can
# import only one of them: the import checks (and the test scripts) run them apart.
$(CLIENTS_STAMP): $(CLIENTS_REQ)
	@if ! command -v python3 >/dev/null || ! python3 -c 'import ensurepip, venv' 2>/dev/null; then \
	  echo "==> apt-get install python3 python3-venv python3-pip"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 python3-venv python3-pip; \
	fi
	@mkdir -p $(CLIENTS_CACHE)
	@flock $(CLIENTS_CACHE)/.venv-clients.lock bash -euo pipefail -c '\
	  if [ -f $(CLIENTS_STAMP) ]; then exit 0; fi; \
	  echo "==> Python venv for the inference clients: $(CLIENTS_VENV)"; \
	  [ -x $(CLIENTS_PY) ] || python3 -m venv $(CLIENTS_VENV); \
	  $(CLIENTS_PY) -m pip install -q --disable-pip-version-check -r $(CLIENTS_REQ); \
	  $(CLIENTS_PY) -c "import tritonclient.http, tritonclient.grpc, numpy"; \
	  $(CLIENTS_PY) -c "import kserve"; \
	  touch $(CLIENTS_STAMP)'

clients-venv: $(CLIENTS_STAMP) ## the tritonclient (http, grpc) + kserve + numpy venv under the cache dir; prints its python
	@echo $(CLIENTS_PY)
