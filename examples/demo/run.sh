#!/usr/bin/env bash
# make demo: the local control plane with its real node, the operator, a PaddleService serving the
# signed MLP fixture from a real pod (the sidecar image, on the kubelet of the real node; the kwok
# GPU nodes stay for the scheduling view), its certificate from cert-manager, a stream of
# inference requests, and `kubectl get psvc` + the status summary updating. Ctrl-C tears it all
# down, also when stdout is a pipe (make demo | tee demo.log).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
NS=paddle-demo
NAME=mlp-demo
WORK="$(mktemp -d /tmp/paddle-demo.XXXXXX)"
PIDS=()
STARTED_CLUSTER=false
TEARDOWN_LOG="$ROOT/e2e/.cluster/demo-teardown.log"

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

cleanup() {
  trap - EXIT INT TERM
  # The reader of a pipe (tee) may be gone after Ctrl-C: nothing below may stop half way; the
  # cluster's teardown also goes to a log that outlives the pipe.
  set +e
  step "tearing down" 2>/dev/null
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null; done
  if [ -n "${KUBECTL:-}" ] && [ "$STARTED_CLUSTER" = false ]; then "$KUBECTL" delete namespace "$NS" --wait=false >/dev/null 2>&1; fi
  if [ "$STARTED_CLUSTER" = true ]; then
    make --no-print-directory cluster-down > "$TEARDOWN_LOG" 2>&1
    cat "$TEARDOWN_LOG" 2>/dev/null
  fi
  rm -rf "$WORK"
  echo "done." 2>/dev/null
}
# A trap that returns lets the script go on where it was (the watch loop, against a cluster that
# is gone): on a signal, tear down and exit.
# Ctrl-C on `make demo | tee demo.log` ends tee too: a write to the pipe must fail (EPIPE), not
# kill this script before it has torn down (the EXIT trap runs on that failure).
trap '' PIPE
trap cleanup EXIT
trap 'cleanup; exit 130' INT
trap 'cleanup; exit 143' TERM

# The last lines of a log, to say why a step failed.
fail() {
  echo "$1; last lines of $2:"
  tail -20 "$2"
  exit 1
}

step "local control plane (etcd, kube-apiserver, controller-manager, scheduler, kwok GPU nodes, cert-manager) and the real node (kubelet, containerd, the sidecar image)"
if ! e2e/cluster/status.sh >/dev/null 2>&1; then STARTED_CLUSTER=true; fi
make --no-print-directory cluster-up
# shellcheck source=/dev/null
. e2e/.cluster/env
export KUBECONFIG KUBECTL
[ -n "${REAL_NODE:-}" ] || { echo "the cluster runs no real node (E2E_REAL_NODE=0?): the demo serves from a real pod"; exit 1; }
k() { "$KUBECTL" "$@"; }

step "starting the operator (logs: $WORK/operator.log)"
node --import tsx operator/src/main.ts --kubeconfig "$KUBECONFIG" --no-leader-elect --ops-port 0 >"$WORK/operator.log" 2>&1 &
PIDS+=($!)

step "namespace $NS: the signing public key (Secret) and the model files (ConfigMap)"
k create namespace "$NS" --dry-run=client -o yaml | k apply -f - >/dev/null
k -n "$NS" create secret generic model-signing-key --from-file=public.pem=native/fixtures/keys/test-only-rsa2048.pub.pem \
  --dry-run=client -o yaml | k apply -f - >/dev/null
k -n "$NS" create configmap mlp-model --from-file=native/fixtures/models/mlp/legacy/ --dry-run=client -o yaml \
  | k apply --server-side -f - >/dev/null

step "applying examples/demo/paddleservice.yaml (image: $SIDECAR_IMAGE, built here and loaded into the node)"
k patch --local -f examples/demo/paddleservice.yaml --type merge -o yaml \
  -p "{\"spec\":{\"runtime\":{\"image\":\"$SIDECAR_IMAGE\"}}}" | k -n "$NS" apply -f -
k -n "$NS" get psvc "$NAME"

step "waiting for the model pod: scheduled onto the real node $REAL_NODE, Ready by the kubelet's probes"
POD=""
for _ in $(seq 1 240); do
  POD="$(k -n "$NS" get pods -l app.kubernetes.io/instance=$NAME -o jsonpath='{.items[0].metadata.name}' 2>/dev/null || true)"
  [ -n "$POD" ] && [ "$(k -n "$NS" get pod "$POD" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}')" = True ] && break
  sleep 1
done
[ -n "$POD" ] || fail "no model pod appeared" "$WORK/operator.log"
k -n "$NS" get pod "$POD" -o wide
[ "$(k -n "$NS" get pod "$POD" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}')" = True ] \
  || fail "model pod $POD is not Ready" "$WORK/operator.log"
k -n "$NS" get deploy,svc,cm,sa,role,rolebinding,pdb,certificate -l app.kubernetes.io/instance=$NAME
POD_IP="$(k -n "$NS" get pod "$POD" -o jsonpath='{.status.podIP}')"
k -n "$NS" get secret "$NAME-tls" -o 'jsonpath={.data.ca\.crt}' | base64 -d >"$WORK/ca.crt"
echo "model pod: $POD on $(k -n "$NS" get pod "$POD" -o jsonpath='{.spec.nodeName}'), IP $POD_IP (inside the node's network namespace)"

step "a loopback port tunnelled to $POD_IP:8443 (through the node's CONNECT proxy)"
node e2e/cluster/netns-bridge.mjs forward "$NODE_PROXY_SOCKET" "$POD_IP:8443" >"$WORK/forward.log" 2>&1 &
PIDS+=($!)
PORT=""
for _ in $(seq 1 50); do
  PORT="$(grep -o '"port":[0-9]*' "$WORK/forward.log" 2>/dev/null | head -1 | cut -d: -f2 || true)"
  [ -n "$PORT" ] && break
  sleep 0.2
done
[ -n "$PORT" ] || fail "the forwarder did not start" "$WORK/forward.log"
curl -sf --cacert "$WORK/ca.crt" --resolve "$NAME.$NS.svc:$PORT:127.0.0.1" "https://$NAME.$NS.svc:$PORT/v2/health/ready" >/dev/null \
  || fail "the pod does not answer over TLS" "$WORK/operator.log"
echo "https://$NAME.$NS.svc:$PORT -> $POD_IP:8443 (certificate from cert-manager, ClusterIssuer paddle-e2e-ca)"

step "sending inference requests (10/s) to https://$NAME.$NS.svc:$PORT"
node --import tsx examples/demo/load.ts "https://127.0.0.1:$PORT" "$WORK/ca.crt" "$NAME.$NS.svc" 10 &
PIDS+=($!)

step "watching the PaddleService (Ctrl-C to stop and tear everything down)"
while true; do
  sleep 5
  echo
  k get nodes -L paddle.io/node
  k -n "$NS" get pods -o wide
  k -n "$NS" get psvc "$NAME"
  k -n "$NS" get psvc "$NAME" -o jsonpath='{range .status.conditions[*]}{.type}={.status} ({.reason}){"\n"}{end}model digest {.status.model.digest} key {.status.model.keyId}{"\n"}latency p50/p95/p99 {.status.latency.p50Ms}/{.status.latency.p95Ms}/{.status.latency.p99Ms} ms, matrix total {.status.matrix.total}, top op {.status.opProfile[0].op}{"\n"}'
done
