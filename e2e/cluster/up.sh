#!/usr/bin/env bash
# Starts the local e2e control plane: etcd, kube-apiserver, kube-controller-manager,
# kube-scheduler and kwok (fake GPU nodes), all real components run as local processes on
# loopback; installs the CRDs and starts cert-manager's controller (CA ClusterIssuer paddle-e2e-ca); and a
# real node (kubelet + containerd + runc + CNI in its own network namespace, node-lib.sh) with
# the images built here (images/build.sh) loaded. E2E_REAL_NODE=0 leaves the real node out.
# A second run while the cluster is up reuses it. Stop it with down.sh (make cluster-down).
#
# Environment: E2E_GPU_NODES (3), E2E_GPUS_PER_NODE (8), E2E_GPU_PRODUCT
# (NVIDIA-A100-SXM4-80GB), E2E_CLUSTER_DIR (e2e/.cluster), E2E_APISERVER_PROFILING (false;
# true serves /debug/pprof on the API server, e.g. to profile it under the operator bench),
# E2E_KCM_API_QPS / E2E_KCM_API_BURST (the controller-manager's client-side limits: 100 / 200;
# Kubernetes' own default is 20 / 30, see below), E2E_CERT_MANAGER_WORKERS (5).
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

GPU_NODES="${E2E_GPU_NODES:-3}"
GPUS_PER_NODE="${E2E_GPUS_PER_NODE:-8}"
GPU_PRODUCT="${E2E_GPU_PRODUCT:-NVIDIA-A100-SXM4-80GB}"
# Every controller of kube-controller-manager (Deployment, ReplicaSet, EndpointSlice, garbage
# collector, ...) has its own client limited to --kube-api-qps requests per second. Kubernetes'
# default, 20 / 30, is for small clusters: a Deployment costs its controller about 3 writes and
# its ReplicaSet's controller about 3 more, so 1000 new Deployments queue for ~150 s behind it
# (bench/operator/ready.ts shows it). Clusters sized for thousands of workloads raise it;
# Kubernetes' own scalability jobs ran it at 100 / 100, and some at 200 / 400.
KCM_API_QPS="${E2E_KCM_API_QPS:-100}"
KCM_API_BURST="${E2E_KCM_API_BURST:-200}"
CERT_MANAGER_WORKERS="${E2E_CERT_MANAGER_WORKERS:-5}"
KUBECTL="$K8S_BIN/kubectl"

print_env() {
  say "cluster is ready ($KUBERNETES_VERSION). Use it with:"
  echo "export KUBECONFIG=$KUBECONFIG_FILE"
}

# is_up: every recorded component alive and the API server ready.
is_up() {
  local c
  for c in $COMPONENTS; do recorded_pid "$c" >/dev/null || return 1; done
  [ -f "$KUBECONFIG_FILE" ] && "$KUBECTL" --kubeconfig "$KUBECONFIG_FILE" get --raw /readyz >/dev/null 2>&1
}

# free_ports <n>: n distinct free TCP ports on 127.0.0.1 (held open together while chosen),
# picked at random below the kernel's ephemeral range: between the choice and the component's
# bind, the kernel never hands such a port to an outgoing connection or to another process's
# bind(0) (other clusters and test servers on a busy machine), as it could an ephemeral one.
free_ports() {
  python3 - "$1" <<'PY'
import random, socket, sys
try:
    low = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
except (OSError, ValueError, IndexError):
    low = 32768
lo, hi = 20000, max(20000 + 1000, low - 1)
socks = []
while len(socks) < int(sys.argv[1]):
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", random.randint(lo, hi)))
    except OSError:
        s.close()
        continue
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
PY
}

# start <name> <command...>: runs a component in its own session (so it and any children form
# one process group), logs to logs/<name>.log and records "<pid> <start time>".
start() {
  local name="$1"; shift
  say "starting $name"
  # shellcheck disable=SC2016  # $$, $0 and $@ belong to the inner shell
  setsid bash -c 'echo $$ > "$0"; exec "$@"' "$PID_DIR/$name.pid.tmp" "$@" \
    > "$LOG_DIR/$name.log" 2>&1 < /dev/null 9>&- &   # 9>&-: components must not hold the cluster lock
  local pid="" i
  for i in $(seq 1 300); do   # 30 s at most: a starved machine can be slow to fork
    [ -s "$PID_DIR/$name.pid.tmp" ] && pid="$(cat "$PID_DIR/$name.pid.tmp")" && break
    sleep 0.1
  done
  [ -n "$pid" ] || die "$name did not start"
  echo "$pid $(start_time "$pid")" > "$PID_DIR/$name.pid"
  rm -f "$PID_DIR/$name.pid.tmp"
}

die() {
  echo "[e2e-cluster] ERROR: $*" >&2
  echo "[e2e-cluster] logs: $LOG_DIR" >&2
  "$E2E_DIR/cluster/down.sh" --keep-data >&2 || true
  exit 1
}

# wait_until <seconds> <what> <command...>. The seconds bound a hang, not an expected duration:
# on a loaded 2-core machine every component is slow to start, so the bounds are generous.
wait_until() {
  local secs="$1" what="$2"; shift 2
  local deadline=$((SECONDS + secs))
  until "$@" >/dev/null 2>&1; do
    [ "$SECONDS" -lt "$deadline" ] || die "timed out after ${secs}s waiting for $what"
    sleep 0.3
  done
}

alive() { recorded_pid "$1" >/dev/null || die "$1 exited; see $LOG_DIR/$1.log"; }

# kubeconfig <file> <user> <cert> <key>
kubeconfig() {
  cat > "$1" <<KC
apiVersion: v1
kind: Config
clusters:
- name: paddle-e2e
  cluster:
    server: https://127.0.0.1:$API_PORT
    certificate-authority-data: $(base64 -w0 "$PKI_DIR/ca.crt")
users:
- name: $2
  user:
    client-certificate-data: $(base64 -w0 "$3")
    client-key-data: $(base64 -w0 "$4")
contexts:
- name: paddle-e2e
  context:
    cluster: paddle-e2e
    user: $2
current-context: paddle-e2e
KC
  chmod 600 "$1"
}

nodes_yaml() {
  local i
  for i in $(seq 0 $((GPU_NODES - 1))); do
    cat <<N
---
apiVersion: v1
kind: Node
metadata:
  name: kwok-gpu-$i
  annotations:
    kwok.x-k8s.io/node: fake
  labels:
    type: kwok
    kubernetes.io/hostname: kwok-gpu-$i
    kubernetes.io/os: linux
    kubernetes.io/arch: amd64
    node.kubernetes.io/instance-type: e2e-gpu
    nvidia.com/gpu.present: "true"
    nvidia.com/gpu.product: $GPU_PRODUCT
    nvidia.com/gpu.count: "$GPUS_PER_NODE"
status:
  capacity: {cpu: "32", memory: 256Gi, pods: "110", nvidia.com/gpu: "$GPUS_PER_NODE"}
  allocatable: {cpu: "32", memory: 256Gi, pods: "110", nvidia.com/gpu: "$GPUS_PER_NODE"}
N
  done
  cat <<N
---
apiVersion: v1
kind: Node
metadata:
  name: kwok-cpu-0
  annotations:
    kwok.x-k8s.io/node: fake
  labels:
    type: kwok
    kubernetes.io/hostname: kwok-cpu-0
    kubernetes.io/os: linux
    kubernetes.io/arch: amd64
    node.kubernetes.io/instance-type: e2e-cpu
status:
  capacity: {cpu: "16", memory: 64Gi, pods: "110"}
  allocatable: {cpu: "16", memory: 64Gi, pods: "110"}
N
}

# need_tools: the host tools the scripts use; installed with apt-get when missing (CI runs as root).
need_tools() {
  local missing=()
  command -v openssl >/dev/null || missing+=(openssl)
  command -v curl >/dev/null || missing+=(curl)
  command -v python3 >/dev/null || missing+=(python3)
  { command -v setsid && command -v flock; } >/dev/null || missing+=(util-linux)
  command -v go >/dev/null || { echo "[e2e-cluster] Go 1.26 is needed to build the control plane (go not found)" >&2; exit 1; }
  [ ${#missing[@]} -eq 0 ] && return 0
  say "installing missing packages: ${missing[*]}"
  if ! command -v apt-get >/dev/null || [ "$(id -u)" != 0 ]; then
    echo "[e2e-cluster] please install: ${missing[*]}" >&2; exit 1
  fi
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

main() {
  need_tools
  lock_cluster
  mkdir -p "$PID_DIR" "$LOG_DIR"
  if is_up; then
    say "an e2e cluster is already running; reusing it"
    print_env
    exit 0
  fi
  # Leftovers of a cluster that is partly down: stop what is left, start afresh.
  if compgen -G "$PID_DIR/*.pid" >/dev/null; then
    say "found a partly running e2e cluster; stopping what is left and starting afresh"
  fi
  "$E2E_DIR/cluster/down.sh" >/dev/null

  local t0=$SECONDS
  "$E2E_DIR/tools/build.sh" all
  local real_node=true
  [ "${E2E_REAL_NODE:-1}" = 0 ] && { real_node=false; say "E2E_REAL_NODE=0: starting WITHOUT the real node (real-node suites will fail)"; }
  if [ "$real_node" = true ]; then
    node_preflight || exit 1
    node_deps || exit 1
    local images
    images="$("$REPO_ROOT/images/build.sh" pause sidecar)" || die "building the node's images failed"
    PAUSE_IMAGE="$(awk '$1 == "pause" {print $2}' <<< "$images")"
    SIDECAR_IMAGE="$(awk '$1 == "sidecar" {print $2}' <<< "$images")"
    NODE_IMAGES="$(awk '{print $3}' <<< "$images" | tr '\n' ' ')"
  fi
  [ -d "$REPO_ROOT/node_modules/tsx" ] || { echo "[e2e-cluster] node_modules missing: run npm ci (make does it)" >&2; exit 1; }

  rm -rf "${LOG_DIR:?}"/* "$CLUSTER_DIR/etcd-data" "$CLUSTER_DIR/run"
  mkdir -p "$CLUSTER_DIR/run"
  "$E2E_DIR/cluster/pki.sh" "$PKI_DIR"

  read -r ETCD_PORT ETCD_PEER_PORT API_PORT KCM_PORT SCHED_PORT < <(free_ports 5)
  kubeconfig "$KUBECONFIG_FILE" paddle-e2e-admin "$PKI_DIR/admin.crt" "$PKI_DIR/admin.key"
  kubeconfig "$CLUSTER_DIR/run/controller-manager.kubeconfig" system:kube-controller-manager \
    "$PKI_DIR/controller-manager.crt" "$PKI_DIR/controller-manager.key"
  kubeconfig "$CLUSTER_DIR/run/scheduler.kubeconfig" system:kube-scheduler \
    "$PKI_DIR/scheduler.crt" "$PKI_DIR/scheduler.key"

  start etcd "$ETCD_BIN/etcd" --name paddle-e2e --data-dir "$CLUSTER_DIR/etcd-data" \
    --listen-client-urls "http://127.0.0.1:$ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
    --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-cluster "paddle-e2e=http://127.0.0.1:$ETCD_PEER_PORT" \
    --unsafe-no-fsync --log-level warn
  wait_until 120 "etcd /health" curl -sf "http://127.0.0.1:$ETCD_PORT/health"

  start kube-apiserver "$K8S_BIN/kube-apiserver" \
    --etcd-servers "http://127.0.0.1:$ETCD_PORT" \
    --bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$API_PORT" \
    --cert-dir "$CLUSTER_DIR/run" \
    --tls-cert-file "$PKI_DIR/apiserver.crt" --tls-private-key-file "$PKI_DIR/apiserver.key" \
    --client-ca-file "$PKI_DIR/ca.crt" \
    --authorization-mode Node,RBAC \
    --service-account-issuer https://kubernetes.default.svc.cluster.local \
    --service-account-key-file "$PKI_DIR/sa.pub" \
    --service-account-signing-key-file "$PKI_DIR/sa.key" \
    --service-cluster-ip-range 10.0.0.0/16 \
    --allow-privileged=true --profiling="${E2E_APISERVER_PROFILING:-false}"
  wait_until 180 "kube-apiserver /readyz" curl -sf --cacert "$PKI_DIR/ca.crt" \
    --cert "$PKI_DIR/admin.crt" --key "$PKI_DIR/admin.key" "https://127.0.0.1:$API_PORT/readyz"
  alive kube-apiserver

  start kube-controller-manager "$K8S_BIN/kube-controller-manager" \
    --kubeconfig "$CLUSTER_DIR/run/controller-manager.kubeconfig" \
    --authentication-kubeconfig "$CLUSTER_DIR/run/controller-manager.kubeconfig" \
    --authorization-kubeconfig "$CLUSTER_DIR/run/controller-manager.kubeconfig" \
    --bind-address 127.0.0.1 --secure-port "$KCM_PORT" --cert-dir "$CLUSTER_DIR/run" \
    --service-account-private-key-file "$PKI_DIR/sa.key" --root-ca-file "$PKI_DIR/ca.crt" \
    --use-service-account-credentials=true --leader-elect=false \
    --cluster-signing-cert-file "$PKI_DIR/ca.crt" --cluster-signing-key-file "$PKI_DIR/ca.key" \
    --kube-api-qps "$KCM_API_QPS" --kube-api-burst "$KCM_API_BURST" \
    --profiling=false
  start kube-scheduler "$K8S_BIN/kube-scheduler" \
    --kubeconfig "$CLUSTER_DIR/run/scheduler.kubeconfig" \
    --authentication-kubeconfig "$CLUSTER_DIR/run/scheduler.kubeconfig" \
    --authorization-kubeconfig "$CLUSTER_DIR/run/scheduler.kubeconfig" \
    --bind-address 127.0.0.1 --secure-port "$SCHED_PORT" --leader-elect=false --profiling=false
  start kwok "$KWOK_BIN/kwok" --kubeconfig "$KUBECONFIG_FILE" --config "$KWOK_BIN/stages.yaml" \
    --manage-all-nodes=false --manage-nodes-with-annotation-selector kwok.x-k8s.io/node=fake \
    --node-lease-duration-seconds 40 --cidr 10.244.0.0/16 --node-ip 10.1.0.1

  local k=("$KUBECTL" --kubeconfig "$KUBECONFIG_FILE")
  say "installing CRDs (cert-manager $CERT_MANAGER_VERSION's own, crds/*.yaml)"
  "${k[@]}" apply --server-side --force-conflicts -f "$CERT_MANAGER_BIN/crds/" >/dev/null \
    || die "could not apply cert-manager's CRDs"
  # Our own CRDs are under test: one the API server refuses is reported, and the cluster still
  # comes up so the e2e suites can show the API server's message.
  local f
  for f in "$REPO_ROOT"/crds/*.yaml; do
    [ -f "$f" ] || continue
    if ! "${k[@]}" apply --server-side --force-conflicts -f "$f" > "$LOG_DIR/crd-apply.log" 2>&1; then
      echo "[e2e-cluster] WARNING: the API server refused ${f#"$REPO_ROOT"/}:" >&2
      sed 's/^/[e2e-cluster]   /' "$LOG_DIR/crd-apply.log" >&2
    fi
  done
  "${k[@]}" wait --for condition=Established --timeout 180s crd --all >/dev/null || die "CRDs not Established"

  say "creating $GPU_NODES kwok GPU nodes ($GPUS_PER_NODE x $GPU_PRODUCT) and 1 CPU node"
  nodes_yaml | "${k[@]}" apply --server-side -f - >/dev/null || die "could not create nodes"
  # cert-manager's CA issuer signs with the e2e issuer CA, kept in its cluster resource namespace.
  "${k[@]}" create namespace cert-manager --dry-run=client -o yaml | "${k[@]}" apply --server-side -f - >/dev/null
  "${k[@]}" -n cert-manager create secret tls paddle-e2e-ca --cert "$PKI_DIR/issuer-ca.crt" --key "$PKI_DIR/issuer-ca.key" \
    --dry-run=client -o yaml | "${k[@]}" apply --server-side -f - >/dev/null || die "could not store the issuer CA"
  "${k[@]}" apply --server-side -f "$E2E_DIR/cluster/cluster-issuer.yaml" >/dev/null || die "could not create the ClusterIssuer"
  # Workers per controller: cert-manager's own default (5); the controller's QPS is 50 / 100
  # (e2e/tools/cert-manager/main.go).
  start cert-manager "$CERT_MANAGER_BIN/cert-manager" --kubeconfig "$KUBECONFIG_FILE" \
    --cluster-resource-namespace cert-manager --workers "$CERT_MANAGER_WORKERS" --v 1

  for c in kube-controller-manager kube-scheduler; do
    local port=$KCM_PORT; [ "$c" = kube-scheduler ] && port=$SCHED_PORT
    wait_until 180 "$c /healthz" curl -sfk "https://127.0.0.1:$port/healthz"
  done
  "${k[@]}" wait --for condition=Ready --timeout 180s node --all >/dev/null || die "kwok nodes did not become Ready"
  "${k[@]}" wait --for condition=Ready --timeout 180s clusterissuer paddle-e2e-ca >/dev/null \
    || die "cert-manager did not make ClusterIssuer paddle-e2e-ca Ready; see $LOG_DIR/cert-manager.log"
  wait_until 300 "the default ServiceAccount" "${k[@]}" get serviceaccount default -n default
  if [ "$real_node" = true ]; then
    say "starting the real node $NODE_NAME (network namespace $NODE_NETNS)"
    node_up "$API_PORT"
  fi
  for c in $COMPONENTS; do alive "$c"; done

  cat > "$CLUSTER_DIR/env" <<ENV
KUBECONFIG=$KUBECONFIG_FILE
KUBECTL=$KUBECTL
HELM=$HELM_BIN/helm
KUBERNETES_VERSION=$KUBERNETES_VERSION
API_SERVER=https://127.0.0.1:$API_PORT
REAL_NODE=$([ "$real_node" = true ] && echo "$NODE_NAME")
NODE_PROXY_SOCKET=$([ "$real_node" = true ] && echo "$NODE_DIR/proxy.sock")
SIDECAR_IMAGE=${SIDECAR_IMAGE:-}
ENV
  say "started in $((SECONDS - t0))s; logs in $LOG_DIR"
  print_env
}

main "$@"; exit $?
