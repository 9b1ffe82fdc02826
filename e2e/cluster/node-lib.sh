# shellcheck shell=bash disable=SC2034  # sourced by up.sh, down.sh and node-leftovers.sh
# The e2e cluster's real node: kubelet + containerd + runc + CNI bridge/host-local, in a network
# namespace this cluster creates (paddle-e2e-<hash of the cluster dir>), beside the kwok nodes.
#
# Network (nothing on the host's side changes: no address, route, iptables rule or sysctl):
#   - the namespace holds the bridge cni0 (10.88.0.1/16, the node IP and the pods' gateway), the
#     pods' veths, and 10.0.0.1 on its lo: the `kubernetes` Service address, where netns-bridge.mjs
#     listens and pipes to the API server on the host's loopback through a unix socket;
#   - tests reach pod IPs through an HTTP CONNECT proxy on a unix socket (node/proxy.sock).
# Cgroups: the kubelet's cgroupRoot is /<netns name> in every v1 hierarchy (and the v2 mount of a
# hybrid host); down removes it. Mounts: all in the node's private mount namespace
# (node-inside.sh), gone with its last process; the only host mount is `ip netns add`'s pin.
NODE_NAME=paddle-e2e-node
NODE_DIR="$CLUSTER_DIR/node"
NODE_NETNS="paddle-e2e-$(printf '%s' "$CLUSTER_DIR" | sha256sum | cut -c1-8)"
NODE_CGROUP="$NODE_NETNS"
NODE_IP=10.88.0.1
NODE_POD_CIDR=10.88.0.0/16
SERVICE_IP=10.0.0.1
NODE_TAINT_KEY=paddle.io/real-node
# The node's components (start order); down.sh stops them in reverse.
NODE_COMPONENTS="node-api-bridge node-netns-bridge node"

# cgroup_dirs: every cgroup hierarchy mounted on this host (v1 controllers, named, and v2).
cgroup_dirs() {
  awk '$9 == "cgroup" || $9 == "cgroup2" { print $5 }' /proc/self/mountinfo 2>/dev/null \
    || awk '$3 == "cgroup" || $3 == "cgroup2" { print $2 }' /proc/mounts
}

# node_pids: processes that belong to the node: in its cgroups, in its network namespace, or
# started with the node directory on their command line (containerd shims).
node_pids() {
  local d p ns="/run/netns/$NODE_NETNS" pattern
  # The node directory as a regex that cannot match this grep's own command line.
  pattern="[/]$(printf '%s' "${NODE_DIR#/}/" | sed 's/[.]/[.]/g')"
  {
    for d in $(cgroup_dirs); do
      if [ -d "$d/$NODE_CGROUP" ]; then find "$d/$NODE_CGROUP" -name cgroup.procs -exec cat {} + 2>/dev/null || true; fi
    done
    if [ -e "$ns" ]; then
      for p in /proc/[0-9]*; do
        if [[ "$p/ns/net" -ef "$ns" ]]; then echo "${p#/proc/}"; fi
      done
    fi
    grep -l -a -e "$pattern" /proc/[0-9]*/cmdline 2>/dev/null | cut -d/ -f3 || true
  } | { grep -vx -e "$$" -e "${BASHPID:-$$}" || true; } | sort -un
}

# node_kill_all: SIGKILL every process of the node until none is left (60 s at most: a starved
# machine is slow to reap).
node_kill_all() {
  local pids i
  for i in $(seq 1 120); do
    pids="$(node_pids)"
    [ -z "$pids" ] && return 0
    # shellcheck disable=SC2086
    kill -KILL $pids 2>/dev/null || true
    sleep 0.5
  done
  echo "[e2e-cluster] WARNING: node processes still alive after 60 s: $(node_pids | tr '\n' ' ')" >&2
  return 1
}

# node_rm_cgroups: removes the node's cgroup trees, deepest first (empty once their tasks died).
node_rm_cgroups() {
  local d i
  for d in $(cgroup_dirs); do
    [ -d "$d/$NODE_CGROUP" ] || continue
    for i in $(seq 1 80); do   # 20 s: a cgroup goes once its last task is reaped
      find "$d/$NODE_CGROUP" -depth -type d -exec rmdir {} + 2>/dev/null || true
      [ -d "$d/$NODE_CGROUP" ] || break
      sleep 0.25
    done
    [ -d "$d/$NODE_CGROUP" ] && echo "[e2e-cluster] WARNING: could not remove cgroup $d/$NODE_CGROUP" >&2
  done
  return 0
}

# node_down: stops the node and removes what it made. Safe to run twice and after a crash:
# it works from names derived from the cluster directory, not from a record of what ran.
node_down() {
  local pid name
  for name in $(echo "$NODE_COMPONENTS" | tr ' ' '\n' | tac); do
    if pid="$(recorded_pid "$name")"; then
      say "stopping $name (pid $pid)"
      kill -TERM -- "-$pid" 2>/dev/null || true
    fi
  done
  node_kill_all || true
  for name in $NODE_COMPONENTS; do rm -f "$PID_DIR/$name.pid"; done
  node_rm_cgroups
  if [ -e "/run/netns/$NODE_NETNS" ]; then ip netns delete "$NODE_NETNS" 2>/dev/null || say "WARNING: ip netns delete $NODE_NETNS failed"; fi
  # Logs of the node are kept (logs/); its state (images, snapshots, pod volumes) is not.
  if [ -d "$NODE_DIR" ]; then
    mkdir -p "$LOG_DIR"
    if [ -d "$NODE_DIR/var-log/pods" ]; then rm -rf "$LOG_DIR/pods"; cp -r "$NODE_DIR/var-log/pods" "$LOG_DIR/pods" 2>/dev/null || true; fi
    cp "$NODE_DIR/containerd.log" "$LOG_DIR/" 2>/dev/null || true
    rm -rf "$NODE_DIR"
  fi
  return 0
}

# node_leftovers: prints anything of the node still on the machine (exit 1 if so).
node_leftovers() {
  local found=0 d pids
  pids="$(node_pids)"
  if [ -n "$pids" ]; then
    echo "processes: $(echo "$pids" | tr '\n' ' ')"
    for p in $pids; do echo "  $p: $(tr '\0' ' ' < "/proc/$p/cmdline" 2>/dev/null | cut -c1-200)"; done
    found=1
  fi
  for d in $(cgroup_dirs); do [ -d "$d/$NODE_CGROUP" ] && { echo "cgroup: $d/$NODE_CGROUP"; found=1; }; done
  ip netns list 2>/dev/null | grep -qw "$NODE_NETNS" && { echo "network namespace: $NODE_NETNS"; found=1; }
  [ -e "/run/netns/$NODE_NETNS" ] && { echo "netns pin: /run/netns/$NODE_NETNS"; found=1; }
  if grep -F -e "$NODE_NETNS" -e "$NODE_DIR" /proc/self/mountinfo; then found=1; fi
  if ip -o link show 2>/dev/null | grep -E -e ': cni0[:@]' -e ': veth[0-9a-f]+@'; then echo "(interfaces above in the host namespace)"; found=1; fi
  [ -e "$NODE_DIR" ] && { echo "directory: $NODE_DIR"; found=1; }
  return $found
}

# node_preflight: says loudly why a real node cannot run here (and exits), instead of letting the
# suites pass without one. E2E_REAL_NODE=0 skips the node (the real-node suites then fail).
node_preflight() {
  local why=()
  [ "$(id -u)" = 0 ] || why+=("not root (the node needs network and mount namespaces and cgroups)")
  [ -w /sys/fs/cgroup/memory ] || [ -w /sys/fs/cgroup/unified/memory.max ] || [ -f /sys/fs/cgroup/cgroup.controllers ] \
    || why+=("no writable cgroup memory controller")
  command -v nsenter >/dev/null && command -v unshare >/dev/null || why+=("nsenter/unshare (util-linux) missing")
  ip netns list >/dev/null 2>&1 || why+=("ip netns does not work (iproute2)")
  if [ ${#why[@]} -gt 0 ]; then
    echo "[e2e-cluster] ERROR: the real node cannot run on this machine:" >&2
    printf '[e2e-cluster]   - %s\n' "${why[@]}" >&2
    echo "[e2e-cluster] Set E2E_REAL_NODE=0 to start the cluster without it (the real-node suites will fail)." >&2
    return 1
  fi
}

# node_deps: containerd, runc and the CNI plugins from Debian (apt-get when missing), checked
# against the versions pinned in versions.env.
node_deps() {
  local missing=()
  command -v containerd >/dev/null || missing+=(containerd)
  command -v runc >/dev/null || missing+=(runc)
  [ -x /usr/lib/cni/bridge ] || missing+=(containernetworking-plugins)
  command -v umoci >/dev/null || missing+=(umoci)
  if [ ${#missing[@]} -gt 0 ]; then
    say "installing the node's packages from Debian: ${missing[*]}"
    command -v apt-get >/dev/null || { echo "[e2e-cluster] please install: ${missing[*]}" >&2; return 1; }
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
  local have
  have="$(containerd --version | awk '{print $3}')"
  [[ "$have" == "$CONTAINERD_VERSION"* ]] || { echo "[e2e-cluster] containerd $have installed, versions.env pins $CONTAINERD_VERSION" >&2; return 1; }
  have="$(runc --version | awk 'NR==1 {print $3}')"
  [[ "$have" == "$RUNC_VERSION"* ]] || { echo "[e2e-cluster] runc $have installed, versions.env pins $RUNC_VERSION" >&2; return 1; }
  have="$(dpkg-query -W -f '${Version}' containernetworking-plugins 2>/dev/null || echo none)"
  [[ "$have" == "$CNI_PLUGINS_VERSION"* ]] || { echo "[e2e-cluster] containernetworking-plugins $have installed, versions.env pins $CNI_PLUGINS_VERSION" >&2; return 1; }
}

# node_files <api-port>: the node's configuration under $NODE_DIR.
node_files() {
  mkdir -p "$NODE_DIR"/{var-log,sysctl,kubelet,kubelet-pki,cni,cni-ipam,images,containerd}
  echo "$NODE_NAME" > "$NODE_DIR/node-name"
  echo "$NODE_IP" > "$NODE_DIR/node-ip"
  # Pods resolve nothing: there is no DNS server on the node's network.
  echo "options ndots:1" > "$NODE_DIR/resolv.conf"
  cat > "$NODE_DIR/kubelet.kubeconfig" <<KC
apiVersion: v1
kind: Config
clusters:
- name: paddle-e2e
  cluster:
    server: https://$SERVICE_IP:443
    certificate-authority-data: $(base64 -w0 "$PKI_DIR/ca.crt")
users:
- name: kubelet
  user:
    client-certificate-data: $(base64 -w0 "$PKI_DIR/node.crt")
    client-key-data: $(base64 -w0 "$PKI_DIR/node.key")
contexts:
- name: paddle-e2e
  context: {cluster: paddle-e2e, user: kubelet}
current-context: paddle-e2e
KC
  chmod 600 "$NODE_DIR/kubelet.kubeconfig"
  cat > "$NODE_DIR/kubelet.yaml" <<YAML
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
# cgroup v1 (hybrid) host without systemd
failCgroupV1: false
cgroupDriver: cgroupfs
cgroupRoot: /$NODE_CGROUP
cgroupsPerQOS: true
enforceNodeAllocatable: [pods]
# never touch the host's iptables or kernel settings
makeIPTablesUtilChains: false
protectKernelDefaults: false
failSwapOn: false
containerRuntimeEndpoint: unix://$NODE_DIR/containerd.sock
imageServiceEndpoint: unix://$NODE_DIR/containerd.sock
address: $NODE_IP
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $PKI_DIR/ca.crt}
authorization: {mode: Webhook}
clusterDomain: cluster.local
resolvConf: $NODE_DIR/resolv.conf
registerWithTaints:
- {key: $NODE_TAINT_KEY, value: "true", effect: NoSchedule}
maxPods: 30
hairpinMode: none
serializeImagePulls: false
# images are loaded, never pulled: keep them (and keep pods from eviction on a busy disk)
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard: {memory.available: "1Mi", nodefs.available: "1%", imagefs.available: "1%", nodefs.inodesFree: "1%"}
nodeStatusUpdateFrequency: 5s
syncFrequency: 10s
YAML
  cat > "$NODE_DIR/containerd.toml" <<TOML
version = 2
root = "$NODE_DIR/containerd/root"
state = "$NODE_DIR/containerd/state"
oom_score = 0
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs", "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]
[grpc]
  address = "$NODE_DIR/containerd.sock"
[plugins."io.containerd.internal.v1.opt"]
  path = "$NODE_DIR/containerd/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_IMAGE"
  # no CAP_SYS_RESOURCE here: a negative oom_score_adj would be refused
  restrict_oom_score_adj = true
  disable_apparmor = true
  enable_selinux = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        BinaryName = "$(command -v runc)"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$NODE_DIR/cni"
TOML
  cat > "$NODE_DIR/cni/10-paddle-e2e.conflist" <<JSON
{
  "cniVersion": "1.0.0",
  "name": "paddle-e2e",
  "plugins": [{
    "type": "bridge", "bridge": "cni0", "isGateway": true, "ipMasq": false, "hairpinMode": false,
    "ipam": {"type": "host-local", "dataDir": "$NODE_DIR/cni-ipam",
             "ranges": [[{"subnet": "$NODE_POD_CIDR", "gateway": "$NODE_IP"}]], "routes": [{"dst": "0.0.0.0/0"}]}
  }]
}
JSON
}

# node_up <api-port>: the node's namespace, the API bridge, containerd + kubelet; waits for Ready.
# Uses up.sh's start / die / wait_until.
node_up() {
  local api_port="$1"
  node_deps || die "the real node's packages are missing or not the pinned versions"
  [ -x "$KUBELET_BIN/kubelet" ] || die "no kubelet in $KUBELET_BIN (e2e/tools/build.sh kubelet)"
  node_files "$api_port"
  local img
  for img in $NODE_IMAGES; do ln -sf "$img" "$NODE_DIR/images/$(basename "$img")"; done

  ip netns add "$NODE_NETNS" || die "ip netns add $NODE_NETNS failed"
  local in_ns=(nsenter --net="/run/netns/$NODE_NETNS")
  "${in_ns[@]}" ip link set lo up
  "${in_ns[@]}" ip addr add "$SERVICE_IP/32" dev lo
  # A fixed MAC: a bridge without one takes the lowest MAC of its ports, so when a pod's veth with
  # the lowest MAC goes away the gateway's MAC changes under the other pods, whose neighbour entry
  # for $NODE_IP then sends every answer (probes, requests through the CONNECT proxy) to the old
  # MAC until it expires (~40 s of "no answer" seen on a rollout). A set address never changes.
  "${in_ns[@]}" ip link add cni0 address 02:50:44:00:00:01 type bridge
  "${in_ns[@]}" ip addr add "$NODE_IP/16" dev cni0
  "${in_ns[@]}" ip link set cni0 up
  local d
  for d in $(cgroup_dirs); do mkdir -p "$d/$NODE_CGROUP"; done
  # A new v1 cpuset cgroup starts with no CPUs and memory nodes: give it its parent's.
  if [ -f /sys/fs/cgroup/cpuset/cpuset.cpus ] && [ -z "$(cat "/sys/fs/cgroup/cpuset/$NODE_CGROUP/cpuset.cpus")" ]; then
    cat /sys/fs/cgroup/cpuset/cpuset.cpus > "/sys/fs/cgroup/cpuset/$NODE_CGROUP/cpuset.cpus"
    cat /sys/fs/cgroup/cpuset/cpuset.mems > "/sys/fs/cgroup/cpuset/$NODE_CGROUP/cpuset.mems"
  fi

  start node-api-bridge node "$E2E_DIR/cluster/netns-bridge.mjs" host "$NODE_DIR/api.sock" "$api_port"
  wait_until 60 "the API bridge socket" test -S "$NODE_DIR/api.sock"
  start node-netns-bridge "${in_ns[@]}" node "$E2E_DIR/cluster/netns-bridge.mjs" node "$SERVICE_IP:443" \
    "$NODE_DIR/api.sock" "$NODE_DIR/proxy.sock"
  wait_until 60 "the node's CONNECT proxy socket" test -S "$NODE_DIR/proxy.sock"
  start node "${in_ns[@]}" unshare --mount --propagation private \
    env PATH="$KUBELET_BIN:$PATH" "$E2E_DIR/cluster/node-inside.sh" "$NODE_DIR"
  local deadline=$((SECONDS + 300))
  until "$KUBECTL" --kubeconfig "$KUBECONFIG_FILE" get node "$NODE_NAME" >/dev/null 2>&1; do
    recorded_pid node >/dev/null || die "the real node's kubelet exited; see $LOG_DIR/node.log and $NODE_DIR/containerd.log"
    [ "$SECONDS" -lt "$deadline" ] || die "timed out after 300s waiting for node $NODE_NAME to register; see $LOG_DIR/node.log"
    sleep 0.5
  done
  "$KUBECTL" --kubeconfig "$KUBECONFIG_FILE" wait --for condition=Ready --timeout 300s node "$NODE_NAME" >/dev/null \
    || die "the real node $NODE_NAME did not become Ready; see $LOG_DIR/node.log and $NODE_DIR/containerd.log"
}
