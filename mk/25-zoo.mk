# native/zoo/: the model zoo. Architectures nobody here wrote (paddle.vision.models, paddle.nn
# RNNs, paddlenlp ERNIE / BERT, PP-OCR / PP-YOLOE / PP-LiteSeg op sets, ...), random weights,
# exported by the pinned Paddle in both formats with Paddle Inference's outputs at batch 1
# and 4; the addon must load and match every one (or the test names it as a known gap).
#   make zoo        generate into $(ZOO_DIR) unless already there (cached by content hash)
#   make zoo-large  the large paddle.vision.models constructors (zoo_large.py) into $(ZOO_LARGE_DIR)
#   make test-zoo   load + run every zoo model through the addon, compare (in make test)
# The models are too big to commit: they live under the cache dir, keyed by the hash of the
# generator and its requirements, so a warm run only loads and compares.
.PHONY: zoo zoo-large zoo-venv test-zoo

TEST_TARGETS += test-zoo

ZOO_SRC := native/zoo
ZOO_CACHE := $(or $(CACHE_DIR),$(HOME)/.cache/paddle-operator)
ZOO_REQ_KEY := $(shell sha256sum $(ZOO_SRC)/requirements.txt 2>/dev/null | cut -c1-12)
ZOO_VENV := $(ZOO_CACHE)/venv-zoo-$(ZOO_REQ_KEY)
ZOO_PY := $(ZOO_VENV)/bin/python
ZOO_VENV_STAMP := $(ZOO_VENV)/.installed
ZOO_GEN := $(ZOO_SRC)/requirements.txt $(ZOO_SRC)/generate.py $(ZOO_SRC)/zoo_arch.py
ZOO_KEY := $(shell cat $(ZOO_GEN) $(ZOO_SRC)/zoo_models.py 2>/dev/null | sha256sum | cut -c1-12)
ZOO_DIR := $(ZOO_CACHE)/zoo-$(ZOO_KEY)
ZOO_STAMP := $(ZOO_DIR)/.complete
# The large constructors have their own key: a change to zoo_models.py does not regenerate them.
ZOO_LARGE_KEY := $(shell cat $(ZOO_GEN) $(ZOO_SRC)/zoo_large.py 2>/dev/null | sha256sum | cut -c1-12)
ZOO_LARGE_DIR := $(ZOO_CACHE)/zoo-large-$(ZOO_LARGE_KEY)
ZOO_LARGE_STAMP := $(ZOO_LARGE_DIR)/.complete

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
# half-made zoo behind the stamp. $(1): the set (main, large), $(2): its directory.
zoo_generate = @flock $(ZOO_CACHE)/.zoo-gen.lock sh -c '[ -e $(2)/.complete ] || { rm -rf $(2).tmp && \
	  $(ZOO_PY) $(ZOO_SRC)/generate.py --set $(1) --out $(2).tmp && rm -rf $(2) && mv $(2).tmp $(2) && touch $(2)/.complete; }'

$(ZOO_STAMP): $(ZOO_VENV_STAMP)
	$(call zoo_generate,main,$(ZOO_DIR))

$(ZOO_LARGE_STAMP): $(ZOO_VENV_STAMP)
	$(call zoo_generate,large,$(ZOO_LARGE_DIR))

zoo: $(ZOO_STAMP) ## generate the model zoo (cached under the cache dir by content hash)
	@echo "zoo: $(ZOO_DIR)"

zoo-large: $(ZOO_LARGE_STAMP) ## generate the large paddle.vision.models constructors (about 2.7 GB, cached likewise)
	@echo "zoo (large): $(ZOO_LARGE_DIR)"

# The zoo is about 1 GB and the large one about 2.7 GB: zoos of other generator versions unused
# for 2 days are removed (a use touches the stamp).
test-zoo: build-native $(ZOO_STAMP) $(ZOO_LARGE_STAMP) ## every zoo architecture through the addon, both formats, batch 1 and 4, vs Paddle
	@touch $(ZOO_STAMP) $(ZOO_LARGE_STAMP)
	@find $(ZOO_CACHE) -maxdepth 2 -path '$(ZOO_CACHE)/zoo-*/.complete' -mtime +2 -printf '%h\n' | xargs -r rm -rf
	ZOO_DIR=$(ZOO_DIR) ZOO_LARGE_DIR=$(ZOO_LARGE_DIR) $(MOCHA) --timeout 300000 '$(ZOO_SRC)/*.test.ts'
