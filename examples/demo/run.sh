#!/usr/bin/env bash
# make demo: the local control plane, the operator, a PaddleService serving the signed MLP
# fixture with a real sidecar process standing in for its (kwok) pod, a stream of inference
# requests, and `kubectl get psvc` + the status summary updating. Ctrl-C tears it all down.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
NS=paddle-demo
NAME=mlp-demo
WORK="$(mktemp -d /tmp/paddle-demo.XXXXXX)"
PIDS=()
STARTED_CLUSTER=false

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

cleanup() {
  trap - EXIT INT TERM
  step "tearing down"
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [ -n "${KUBECTL:-}" ]; then "$KUBECTL" delete namespace "$NS" --wait=false >/dev/null 2>&1 || true; fi
  if [ "$STARTED_CLUSTER" = true ]; then make --no-print-directory cluster-down; fi
  rm -rf "$WORK"
  echo "done."
}
# A trap that returns lets the script go on where it was (the watch loop, against a cluster that
# is gone): on a signal, tear down and exit.
trap cleanup EXIT
trap 'cleanup; exit 130' INT
trap 'cleanup; exit 143' TERM

# The last lines of a log, to say why a step failed.
fail() {
  echo "$1; last lines of $2:"
  tail -20 "$2"
  exit 1
}

step "local control plane (etcd, kube-apiserver, controller-manager, scheduler, kwok GPU nodes, test issuer)"
if ! e2e/cluster/status.sh >/dev/null 2>&1; then STARTED_CLUSTER=true; fi
make --no-print-directory cluster-up
# shellcheck source=/dev/null
. e2e/.cluster/env
export KUBECONFIG KUBECTL
k() { "$KUBECTL" "$@"; }

step "native predictor addon (built once: a few minutes on the first run)"
make --no-print-directory build-native >/dev/null

step "starting the operator (logs: $WORK/operator.log)"
node --import tsx operator/src/main.ts --kubeconfig "$KUBECONFIG" --no-leader-elect --ops-port 0 >"$WORK/operator.log" 2>&1 &
PIDS+=($!)

step "namespace $NS: the signing public key (Secret) and the model files (ConfigMap)"
k create namespace "$NS" --dry-run=client -o yaml | k apply -f - >/dev/null
k -n "$NS" create secret generic model-signing-key --from-file=public.pem=native/fixtures/keys/test-only-rsa2048.pub.pem \
  --dry-run=client -o yaml | k apply -f - >/dev/null
k -n "$NS" create configmap mlp-model --from-file=native/fixtures/models/mlp/legacy/ --dry-run=client -o yaml \
  | k apply --server-side -f - >/dev/null

step "applying examples/demo/paddleservice.yaml"
k -n "$NS" apply -f examples/demo/paddleservice.yaml
k -n "$NS" get psvc "$NAME"

step "waiting for the operator's children and the model pod (scheduled by the real scheduler onto a kwok node)"
for _ in $(seq 1 120); do
  POD="$(k -n "$NS" get pods -l app.kubernetes.io/instance=$NAME -o jsonpath='{.items[0].metadata.name}' 2>/dev/null || true)"
  [ -n "$POD" ] && [ "$(k -n "$NS" get pod "$POD" -o jsonpath='{.status.phase}')" = Running ] && break
  sleep 1
done
[ -n "${POD:-}" ] || fail "no model pod appeared" "$WORK/operator.log"
[ "$(k -n "$NS" get pod "$POD" -o jsonpath='{.status.phase}')" = Running ] || fail "model pod $POD is not Running" "$WORK/operator.log"
k -n "$NS" get deploy,svc,cm,sa,role,rolebinding,pdb,certificate -l app.kubernetes.io/instance=$NAME
echo "model pod: $POD (kwok runs no containers: a real sidecar process plays this pod below)"

step "waiting for the Certificate (test issuer) and fetching the pod's files: TLS Secret, config.json"
for _ in $(seq 1 60); do
  k -n "$NS" get secret "$NAME-tls" >/dev/null 2>&1 && break
  sleep 1
done
k -n "$NS" get secret "$NAME-tls" >/dev/null || fail "the test issuer wrote no Secret $NAME-tls" e2e/.cluster/logs/test-issuer.log
for f in tls.crt tls.key ca.crt; do
  k -n "$NS" get secret "$NAME-tls" -o "jsonpath={.data.${f//./\\.}}" | base64 -d >"$WORK/$f"
done
k -n "$NS" get configmap "$NAME-config" -o 'jsonpath={.data.config\.json}' >"$WORK/config.json"

step "starting the sidecar as pod $POD: verifies the signed model, serves HTTPS on a free loopback port, reports status"
POD_NAME="$POD" POD_NAMESPACE="$NS" PADDLESERVICE_NAME="$NAME" \
  node --import tsx sidecar/src/main.ts --host 127.0.0.1 --port 0 --metrics-port 0 \
  --model-dir native/fixtures/models/mlp/legacy --model-name mlp --model-format pdmodel \
  --public-key native/fixtures/keys/test-only-rsa2048.pub.pem --config "$WORK/config.json" \
  --tls-cert "$WORK/tls.crt" --tls-key "$WORK/tls.key" --tls-ca "$WORK/ca.crt" >"$WORK/sidecar.log" 2>&1 &
SIDECAR=$!
PIDS+=("$SIDECAR")
# The port the OS picked, from the sidecar's "serving" log line.
PORT=""
for _ in $(seq 1 120); do
  PORT="$(grep '"message":"serving"' "$WORK/sidecar.log" 2>/dev/null | grep -o '"port":[0-9]*' | head -1 | cut -d: -f2 || true)"
  [ -n "$PORT" ] && break
  kill -0 "$SIDECAR" 2>/dev/null || fail "the sidecar exited" "$WORK/sidecar.log"
  sleep 1
done
[ -n "$PORT" ] || fail "the sidecar did not start serving" "$WORK/sidecar.log"
READY=false
for _ in $(seq 1 60); do
  if curl -sf --cacert "$WORK/ca.crt" --resolve "$NAME.$NS.svc:$PORT:127.0.0.1" "https://$NAME.$NS.svc:$PORT/v2/health/ready" >/dev/null; then READY=true; break; fi
  sleep 1
done
[ "$READY" = true ] || fail "the sidecar is not ready" "$WORK/sidecar.log"
grep '"message":"model loaded"' "$WORK/sidecar.log" | grep -o '"digest":"[0-9a-f]*","verified":[a-z]*' | sed 's/^/model loaded: /' || true

step "sending inference requests (10/s) to https://$NAME.$NS.svc:$PORT (resolved to the local sidecar)"
node --import tsx examples/demo/load.ts "https://127.0.0.1:$PORT" "$WORK/ca.crt" "$NAME.$NS.svc" 10 &
PIDS+=($!)

step "watching the PaddleService (Ctrl-C to stop and tear everything down)"
while true; do
  sleep 5
  echo
  k -n "$NS" get psvc "$NAME"
  k -n "$NS" get psvc "$NAME" -o jsonpath='{range .status.conditions[*]}{.type}={.status} ({.reason}){"\n"}{end}model digest {.status.model.digest} key {.status.model.keyId}{"\n"}latency p50/p95/p99 {.status.latency.p50Ms}/{.status.latency.p95Ms}/{.status.latency.p99Ms} ms, matrix total {.status.matrix.total}, top op {.status.opProfile[0].op}{"\n"}'
done
