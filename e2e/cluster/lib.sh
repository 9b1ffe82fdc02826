# shellcheck shell=bash disable=SC2034  # variables are used by the scripts that source this
# Shared by up.sh, down.sh and status.sh (sourced). Paths and process bookkeeping of the e2e cluster.
E2E_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
REPO_ROOT="$(cd "$E2E_DIR/.." && pwd)"
CLUSTER_DIR="${E2E_CLUSTER_DIR:-$E2E_DIR/.cluster}"
PID_DIR="$CLUSTER_DIR/pids"
LOG_DIR="$CLUSTER_DIR/logs"
PKI_DIR="$CLUSTER_DIR/pki"
KUBECONFIG_FILE="$CLUSTER_DIR/kubeconfig"
# shellcheck source=../tools/versions.env
. "$E2E_DIR/tools/versions.env"
# shellcheck source=../tools/paths.sh
. "$E2E_DIR/tools/paths.sh"

# shellcheck source=node-lib.sh
. "$E2E_DIR/cluster/node-lib.sh"
# Components in start order; down.sh stops them in reverse (the real node's first, node_down).
# E2E_REAL_NODE=0 leaves the real node out.
COMPONENTS="etcd kube-apiserver kube-controller-manager kube-scheduler kwok cert-manager"
[ "${E2E_REAL_NODE:-1}" = 0 ] || COMPONENTS="$COMPONENTS $NODE_COMPONENTS"

say() { echo "[e2e-cluster] $*"; }

# start_time <pid>: the kernel's start time of a process (field 22 of /proc/<pid>/stat), so a
# recorded PID is never confused with an unrelated process that later reused the number.
start_time() {
  local stat fields
  stat="$(cat "/proc/$1/stat" 2>/dev/null)" || return 1
  stat="${stat##*) }"            # drop "pid (comm) ", comm may contain spaces
  read -ra fields <<< "$stat"    # fields[0] is field 3 (state)
  echo "${fields[19]}"           # field 22
}

# recorded_pid <name>: prints the PID of a component if its recorded process is still alive.
recorded_pid() {
  local f="$PID_DIR/$1.pid" pid st
  [ -f "$f" ] || return 1
  read -r pid st < "$f" || return 1
  [ -n "$pid" ] && [ "$(start_time "$pid" 2>/dev/null)" = "$st" ] || return 1
  echo "$pid"
}

# group_alive <pgid>: whether any live (non-zombie) process is left in the process group.
# Exited components are re-parented to PID 1, which may reap them late; zombies count as gone.
group_alive() {
  kill -0 -- "-$1" 2>/dev/null || return 1
  ps -e -o pgid=,stat= | awk -v g="$1" '$1 == g && $2 !~ /^Z/ { found = 1 } END { exit !found }'
}

# lock_cluster: one cluster-up/cluster-down at a time for this cluster directory (helpers that
# share a working tree may call them together). Nested calls (up.sh -> down.sh) skip it.
lock_cluster() {
  [ -n "${E2E_CLUSTER_LOCKED:-}" ] && return 0
  mkdir -p "$CLUSTER_DIR"
  exec 9> "$CLUSTER_DIR/.lock"
  if ! flock -n 9; then
    say "another cluster-up/cluster-down is running for $CLUSTER_DIR; waiting for it"
    flock 9
  fi
  export E2E_CLUSTER_LOCKED=1
}
