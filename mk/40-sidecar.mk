# sidecar/: the per-pod HTTPS inference server (TypeScript) around the native predictor.
#   make test-sidecar    unit + in-process integration tests (real TLS, JWTs, rsyslog)
#   make bench-sidecar   autocannon: full chain vs a bare node:http server, same run
#   make bench-sidecar-overload   200 connections on the transformer: shed, p99, probes, RSS
#   make run-sidecar     run the sidecar locally on the MLP fixture (plain HTTP, auth off)
.PHONY: test-sidecar bench-sidecar bench-sidecar-overload run-sidecar sidecar-deps

UNIT_TEST_TARGETS += test-sidecar

# The real predictor is used as soon as its public entry is in the tree; then the addon must be built.
SIDECAR_NATIVE := $(if $(wildcard native/lib/index.ts),build-native)
SIDECAR_APT := DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends

# rsyslog (+ the GnuTLS driver) for the audit tests, openssl for the test PKI: apt-get when missing.
sidecar-deps:
	@missing=""; \
	[ -x /usr/sbin/rsyslogd ] || missing="$$missing rsyslog"; \
	[ -e /usr/lib/x86_64-linux-gnu/rsyslog/lmnsd_gtls.so ] || [ -e /usr/lib/rsyslog/lmnsd_gtls.so ] || missing="$$missing rsyslog-gnutls"; \
	command -v openssl >/dev/null || missing="$$missing openssl"; \
	if [ -n "$$missing" ]; then \
	  echo "==> apt-get install$$missing"; (apt-get update -qq || true) && $(SIDECAR_APT) $$missing; \
	fi

test-sidecar: $(NPM_STAMP) sidecar-deps clients-venv $(SIDECAR_NATIVE) ## sidecar tests (real TLS, JWTs, rsyslog; real predictor once built)
	$(MOCHA) --timeout 120000 'sidecar/test/**/*.test.ts'

bench: bench-sidecar
bench-sidecar: $(NPM_STAMP) $(SIDECAR_NATIVE) ## sidecar throughput/latency vs bare node:http and bare gRPC servers; dynamic batching on/off
	npx tsx bench/sidecar/bench.ts
	npx tsx bench/sidecar/grpc.ts
	npx tsx bench/sidecar/batching.ts

bench: bench-sidecar-overload
bench-sidecar-overload: $(NPM_STAMP) $(SIDECAR_NATIVE) ## the sidecar process flooded on the transformer fixture: served p50/p99, shed, probe latency, RSS
	npx tsx bench/sidecar/overload.ts

run-sidecar: $(NPM_STAMP) $(SIDECAR_NATIVE) ## run the sidecar on the MLP fixture (http://127.0.0.1:8080, auth off)
	npx tsx sidecar/src/main.ts --no-tls --port 8080 --metrics-port 0 --health-port 0 \
	  --model-dir native/fixtures/models/mlp/legacy --model-name mlp \
	  --public-key native/fixtures/keys/test-only-rsa2048.pub.pem --config /nonexistent
