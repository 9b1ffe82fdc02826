# native/: the C++ predictor addon (cmake-js, node-addon-api, OpenBLAS; OpenSSL from node).
# Every target sets up what it misses (apt packages, the build) and is fast when done.
.PHONY: build-native test-native bench-native fuzz-native clean-native native-deps

NATIVE_ADDON := build/Release/paddle_native.node
NATIVE_SOURCES := $(wildcard native/src/*.cc native/src/*.h) CMakeLists.txt
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
	@command -v cmake >/dev/null || { (apt-get update -qq || true) && $(APT_INSTALL) cmake; }
	@command -v g++ >/dev/null || { (apt-get update -qq || true) && $(APT_INSTALL) g++ make; }

$(NATIVE_ADDON): $(NPM_STAMP) $(NATIVE_SOURCES) | native-deps
	@echo "==> building the native addon"
	npx cmake-js compile --runtime-directory "$(NODE_DIR)" --parallel 2 --log-level warn
	@touch $@

build-native: native-deps $(NATIVE_ADDON) ## build the native predictor addon (build/Release/paddle_native.node)

test-native: build-native ## unit tests of the native predictor (parity, tampering, malformed input, Node API)
	$(MOCHA) --timeout 120000 'native/test/**/*.test.ts'

clean-native:
	rm -rf build .fuzz-out

# Benchmarks: builtin vs paddle.inference (the fixtures' pinned Paddle venv, mk/20-fixtures.mk)
# and load+verify of a 200 MB parameters file vs sha256sum. Prints figures only.
bench-native: build-native fixtures-venv ## benchmark the native predictor against paddle.inference
	PADDLE_PYTHON=$(FIXTURES_PY) npx tsx bench/native/bench.ts

bench: bench-native
