#!/usr/bin/env bash
# The real node's supervisor, run by node.sh inside the node's own network namespace and a new
# private mount namespace (nsenter --net=... unshare --mount --propagation private). Everything it
# mounts lives in that mount namespace and goes away with its last process; nothing propagates
# to the host's mounts.
#   - tmpfs over /run, /var/lib and /var/log: containerd's shim sockets (/run/containerd/s),
#     the pods' network namespace pins (/run/netns), CNI caches (/var/lib/cni) and the kubelet's
#     pod logs (/var/log/pods) stay private and vanish with the node.
#   - plain files bind-mounted over the sysctls the kubelet wants to set (vm.overcommit_memory,
#     kernel.panic, ...), holding the values it expects, so it never writes the host's.
#   - the kubelet's root dir is a shared mount point (mount propagation for volumes).
# Then it starts containerd and execs the kubelet, both in this process group.
# Usage: node-inside.sh <node-dir>
set -euo pipefail
dir="$1"
mount -t tmpfs -o mode=755 paddle-e2e-run /run
mount -t tmpfs -o mode=755 paddle-e2e-varlib /var/lib
mount --bind "$dir/var-log" /var/log
mkdir -p /run/netns /run/containerd

# The values the kubelet checks (pkg/kubelet/cm: setupKernelTunables); the files hold exactly
# them, so it finds nothing to change.
while read -r key value; do
  f="$dir/sysctl/${key//\//.}"
  echo "$value" > "$f"
  mount --bind "$f" "/proc/sys/$key"
done <<'SYSCTL'
vm/overcommit_memory 1
vm/panic_on_oom 0
kernel/panic 10
kernel/panic_on_oops 1
kernel/keys/root_maxkeys 1000000
kernel/keys/root_maxbytes 25000000
SYSCTL

mount --bind "$dir/kubelet" "$dir/kubelet"
mount --make-rshared "$dir/kubelet"

containerd --config "$dir/containerd.toml" > "$dir/containerd.log" 2>&1 &
for _ in $(seq 1 600); do [ -S "$dir/containerd.sock" ] && break; sleep 0.1; done   # 60 s at most
[ -S "$dir/containerd.sock" ] || { echo "containerd did not create its socket; see $dir/containerd.log" >&2; exit 1; }

# Images the node runs: loaded from the cache (OCI archives built by images/build.sh).
for tar in "$dir"/images/*.tar; do
  [ -f "$tar" ] || continue
  ctr --address "$dir/containerd.sock" -n k8s.io images import "$tar" >/dev/null \
    || { echo "could not import $tar" >&2; exit 1; }
done
touch "$dir/images.loaded"

exec kubelet --config "$dir/kubelet.yaml" --kubeconfig "$dir/kubelet.kubeconfig" \
  --hostname-override "$(cat "$dir/node-name")" --node-ip "$(cat "$dir/node-ip")" \
  --node-labels "paddle.io/node=real" --root-dir "$dir/kubelet" --cert-dir "$dir/kubelet-pki" \
  --oom-score-adj 0 --v "${E2E_KUBELET_VERBOSITY:-1}"
