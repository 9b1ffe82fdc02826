# native/: the C++ predictor addon (cmake-js, node-addon-api, OpenBLAS, oneDNN; OpenSSL from node).
# Every target sets up what it misses (apt packages, the build) and is fast when done.
.PHONY: build-native test-native bench-native fuzz-native fuzz-deps clean-native native-deps

NATIVE_ADDON := build/Release/paddle_native.node
NATIVE_SOURCES := $(wildcard native/src/*.cc native/src/*.h native/test-double/*.cc) CMakeLists.txt
NODE_DIR := $(shell node -p "require('path').resolve(process.execPath, '../..')" 2>/dev/null)
APT_INSTALL := DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends

BUILD_TARGETS += build-native
UNIT_TEST_TARGETS += test-native
CLEAN_TARGETS += clean-native

native-deps:
	@if ! pkg-config --exists openblas 2>/dev/null && [ ! -e /usr/include/x86_64-linux-gnu/cblas.h ] && [ ! -e /usr/include/cblas.h ]; then \
	  echo "==> installing libopenblas-dev"; \
	  (apt-get update -qq || true) && $(APT_INSTALL) libopenblas-dev pkg-config; \
	fi
	@[ -e /usr/include/oneapi/dnnl/dnnl.hpp ] || { echo "==> installing libdnnl-dev (oneDNN)"; (apt-get update -qq || true) && $(APT_INSTALL) libdnnl-dev; }
	@command -v cmake >/dev/null || { (apt-get update -qq || true) && $(APT_INSTALL) cmake; }
	@command -v g++ >/dev/null || { (apt-get update -qq || true) && $(APT_INSTALL) g++ make; }

$(NATIVE_ADDON): $(NPM_STAMP) $(NATIVE_SOURCES) | native-deps
	@echo "==> building the native addon"
	npx cmake-js compile --runtime-directory "$(NODE_DIR)" --parallel 2 --log-level warn
	@touch $@

build-native: native-deps $(NATIVE_ADDON) ## build the native predictor addon (build/Release/paddle_native.node)

test-native: build-native s3-server ## unit tests of the native predictor (parity, tampering, malformed input, Node API)
	$(MOCHA) --timeout 120000 'native/test/**/*.test.ts'

clean-native:
	rm -rf build .fuzz-out

# Benchmarks (bench/native/bench.ts): builtin vs Paddle Inference (production config and IR
# off) and ONNX Runtime on models the bench exports itself, and load+verify of a 200 MB
# parameters file vs sha256sum. Prints figures only. The references live in a venv keyed by
# bench/native/requirements.txt, the exported models in a directory keyed by that file and
# make_models.py (both under the cache dir, built under flock).
BENCH_NATIVE_CACHE := $(or $(CACHE_DIR),$(HOME)/.cache/paddle-operator)
BENCH_NATIVE_VENV := $(BENCH_NATIVE_CACHE)/venv-bench-native-$(shell sha256sum bench/native/requirements.txt 2>/dev/null | cut -c1-12)
BENCH_NATIVE_PY := $(BENCH_NATIVE_VENV)/bin/python
BENCH_NATIVE_MODELS := $(BENCH_NATIVE_CACHE)/bench-native-models-$(shell cat bench/native/requirements.txt bench/native/make_models.py 2>/dev/null | sha256sum | cut -c1-12)

$(BENCH_NATIVE_VENV)/.installed: bench/native/requirements.txt
	$(fixtures_system_tools)
	@mkdir -p $(BENCH_NATIVE_CACHE)
	flock $(BENCH_NATIVE_CACHE)/.bench-native.lock sh -c '[ -x $(BENCH_NATIVE_PY) ] || python3 -m venv $(BENCH_NATIVE_VENV); \
	  $(BENCH_NATIVE_PY) -m pip install -q --disable-pip-version-check -r bench/native/requirements.txt'
	@touch $@

$(BENCH_NATIVE_MODELS)/.done: $(BENCH_NATIVE_VENV)/.installed bench/native/make_models.py
	flock $(BENCH_NATIVE_CACHE)/.bench-native.lock $(BENCH_NATIVE_PY) bench/native/make_models.py --out $(BENCH_NATIVE_MODELS)
	@touch $@

bench-native: build-native $(BENCH_NATIVE_MODELS)/.done ## benchmark the builtin predictor against Paddle Inference and ONNX Runtime
	BENCH_PYTHON=$(BENCH_NATIVE_PY) BENCH_MODELS=$(BENCH_NATIVE_MODELS) npx tsx bench/native/bench.ts

bench: bench-native

# libFuzzer harnesses, one per parser (native/fuzz/*.cc), each run for FUZZ_SECONDS on a
# scratch copy of its committed seed corpus (native/fuzz/corpus/<name>/). They link the
# system libcrypto (libssl-dev) since they run outside node.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS := pdmodel pdiparams pir signature
FUZZ_BIN := build/fuzz
FUZZ_CORE := $(filter-out native/src/addon.cc native/src/nvml.cc,$(wildcard native/src/*.cc))
FUZZ_CXX ?= clang++

fuzz-deps: native-deps
	@command -v $(FUZZ_CXX) >/dev/null && echo 'extern "C" int LLVMFuzzerTestOneInput(const char*, unsigned long) { return 0; }' | \
	  $(FUZZ_CXX) -x c++ -fsanitize=fuzzer -o /dev/null - 2>/dev/null || { \
	  echo "==> installing clang + libFuzzer runtime"; (apt-get update -qq || true); \
	  $(APT_INSTALL) clang libclang-rt-dev 2>/dev/null || $(APT_INSTALL) clang libclang-rt-14-dev; }
	@[ -e /usr/include/openssl/evp.h ] || $(APT_INSTALL) libssl-dev

FUZZ_FLAGS := -std=c++17 -O1 -g -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined
FUZZ_OBJS := $(patsubst native/src/%.cc,$(FUZZ_BIN)/obj/%.o,$(FUZZ_CORE))
.SECONDARY: $(FUZZ_OBJS)

$(FUZZ_BIN)/obj/%.o: native/src/%.cc $(wildcard native/src/*.h) | fuzz-deps
	@mkdir -p $(dir $@)
	$(FUZZ_CXX) $(FUZZ_FLAGS) $$(pkg-config --cflags openblas) -c -o $@ $<

$(FUZZ_BIN)/fuzz_%: native/fuzz/fuzz_%.cc $(wildcard native/fuzz/*.h) $(FUZZ_OBJS) | fuzz-deps
	$(FUZZ_CXX) $(FUZZ_FLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_OBJS) $$(pkg-config --libs openblas) -ldnnl -lgomp -lcrypto

fuzz-native: $(addprefix $(FUZZ_BIN)/fuzz_,$(FUZZ_TARGETS)) ## run each native parser fuzzer for FUZZ_SECONDS (default 60)
	@for t in $(FUZZ_TARGETS); do \
	  rm -rf .fuzz-out/$$t .fuzz-out/$$t-* && mkdir -p .fuzz-out/$$t && cp native/fuzz/corpus/$$t/* .fuzz-out/$$t/; \
	  echo "==> fuzz_$$t for $(FUZZ_SECONDS)s"; \
	  $(FUZZ_BIN)/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=2048 -max_len=65536 -timeout=10 \
	    -artifact_prefix=.fuzz-out/$$t- .fuzz-out/$$t 2>&1 | grep -E "^(Done|#[0-9]+.*DONE)|ERROR|SUMMARY|stat::number_of_executed_units" || true; \
	  if [ -n "$$(find .fuzz-out -maxdepth 1 -type f -name "$$t-*")" ]; then echo "fuzz_$$t found a failure: see .fuzz-out/$$t-*"; exit 1; fi; \
	done

fuzz: fuzz-native
