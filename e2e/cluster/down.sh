#!/usr/bin/env bash
# Stops every process the e2e cluster started, by the PIDs recorded in e2e/.cluster/pids/.
# Each component runs as the leader of its own session/process group, so the whole group
# (children included) is signalled: TERM, then KILL after a grace period. Safe to run twice.
# Usage: down.sh [--keep-data]
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

lock_cluster
keep_data=false
[ "${1:-}" = "--keep-data" ] && keep_data=true

stopped=0
# The real node first (its processes, cgroups, network namespace, state), found by name, so this
# also cleans up after a crash or a run with another E2E_REAL_NODE setting.
for name in $NODE_COMPONENTS; do recorded_pid "$name" >/dev/null && stopped=$((stopped + 1)); done
node_down
for name in $(echo "$COMPONENTS" | tr ' ' '\n' | tac); do
  case " $NODE_COMPONENTS " in *" $name "*) continue ;; esac
  f="$PID_DIR/$name.pid"
  [ -f "$f" ] || continue
  if pid="$(recorded_pid "$name")"; then
    say "stopping $name (pid $pid)"
    kill -TERM -- "-$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do group_alive "$pid" || break; sleep 0.1; done
    if group_alive "$pid"; then
      say "$name did not stop in 10s; killing its process group"
      kill -KILL -- "-$pid" 2>/dev/null || true
      for _ in $(seq 1 300); do group_alive "$pid" || break; sleep 0.1; done   # 30 s: reaping under load
    fi
    stopped=$((stopped + 1))
  fi
  rm -f "$f"
done

if [ "$keep_data" = false ]; then
  rm -rf "$CLUSTER_DIR/etcd-data" "$CLUSTER_DIR/run"
  rm -f "$KUBECONFIG_FILE" "$CLUSTER_DIR/env"
fi
if [ "$stopped" -eq 0 ]; then say "no e2e cluster process was running"; else say "stopped $stopped processes; logs kept in $LOG_DIR"; fi
