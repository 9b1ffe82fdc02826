# native/zoo/: the model zoo. Architectures nobody here wrote (paddle.vision.models, paddle.nn
# RNNs, paddlenlp ERNIE / BERT, PP-OCR / PP-YOLOE / PP-LiteSeg op sets, ...), random weights,
# exported by the pinned Paddle in both formats with Paddle Inference's outputs at batch 1
# and 4; the addon must load and match every one (or the test names it as a known gap).
#   make zoo        generate into $(ZOO_DIR) unless already there (cached by content hash)
#   make test-zoo   load + run every zoo model through the addon, compare (in make test)
# The models are too big to commit: they live under the cache dir, keyed by the hash of the
# generator and its requirements, so a warm run only loads and compares.
.PHONY: zoo zoo-venv test-zoo

TEST_TARGETS += test-zoo

ZOO_SRC := native/zoo
ZOO_CACHE := $(or $(CACHE_DIR),$(HOME)/.cache/paddle-operator)
ZOO_REQ_KEY := $(shell sha256sum $(ZOO_SRC)/requirements.txt 2>/dev/null | cut -c1-12)
ZOO_VENV := $(ZOO_CACHE)/venv-zoo-$(ZOO_REQ_KEY)
ZOO_PY := $(ZOO_VENV)/bin/python
ZOO_VENV_STAMP := $(ZOO_VENV)/.installed
ZOO_KEY := $(shell cat $(ZOO_SRC)/requirements.txt $(ZOO_SRC)/generate.py $(ZOO_SRC)/zoo_models.py 2>/dev/null | sha256sum | cut -c1-12)
ZOO_DIR := $(ZOO_CACHE)/zoo-$(ZOO_KEY)
ZOO_STAMP := $(ZOO_DIR)/.complete

$(ZOO_VENV_STAMP): $(ZOO_SRC)/requirements.txt
	$(fixtures_system_tools)
	@if ! python3 -c 'import ensurepip, venv' 2>/dev/null; then \
	  echo "==> apt-get install python3-venv"; apt-get update -qq && apt-get install -y -qq python3-venv; \
	fi
	@echo "==> Python venv for the model zoo: $(ZOO_VENV)"
	@mkdir -p $(ZOO_CACHE)
	@flock $(ZOO_CACHE)/.zoo-venv.lock sh -c '[ -e $@ ] || { [ -x $(ZOO_PY) ] || python3 -m venv $(ZOO_VENV); \
	  $(ZOO_PY) -m pip install -q --disable-pip-version-check -r $(ZOO_SRC)/requirements.txt && touch $@; }'

zoo-venv: $(ZOO_VENV_STAMP) ## install the zoo generator's pinned paddlepaddle + paddlenlp (venv under the cache dir)

# Generated into a scratch dir and renamed into place, so a killed run never leaves a
# half-made zoo behind the stamp.
$(ZOO_STAMP): $(ZOO_VENV_STAMP)
	@flock $(ZOO_CACHE)/.zoo-gen.lock sh -c '[ -e $@ ] || { rm -rf $(ZOO_DIR).tmp && \
	  $(ZOO_PY) $(ZOO_SRC)/generate.py --out $(ZOO_DIR).tmp && rm -rf $(ZOO_DIR) && mv $(ZOO_DIR).tmp $(ZOO_DIR) && touch $@; }'

zoo: $(ZOO_STAMP) ## generate the model zoo (cached under the cache dir by content hash)
	@echo "zoo: $(ZOO_DIR)"

# Each zoo is about 1 GB: zoos of other generator versions unused for 2 days are removed
# (a use touches the stamp).
test-zoo: build-native $(ZOO_STAMP) ## every zoo architecture through the addon, both formats, batch 1 and 4, vs Paddle
	@touch $(ZOO_STAMP)
	@find $(ZOO_CACHE) -maxdepth 2 -path '$(ZOO_CACHE)/zoo-*/.complete' -mtime +2 -printf '%h\n' | xargs -r rm -rf
	ZOO_DIR=$(ZOO_DIR) $(MOCHA) --timeout 300000 '$(ZOO_SRC)/*.test.ts'
