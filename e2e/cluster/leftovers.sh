#!/usr/bin/env bash
# Exit 0 when nothing of this cluster's real node is left on the machine (processes, cgroups,
# network namespace, mounts, interfaces, state directory); otherwise lists what is and exits 1.
# make test-e2e runs it after cluster-down. The kernel finishes some of that teardown on its own
# time (reaping killed processes, freeing their cgroups): on a loaded machine that can lag
# cluster-down, so it waits up to LEFTOVERS_WAIT_SECONDS (default 60) for the machine to be clean
# before it reports what is still there.
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
deadline=$((SECONDS + ${LEFTOVERS_WAIT_SECONDS:-60}))
until out="$(node_leftovers)"; do
  if [ "$SECONDS" -ge "$deadline" ]; then
    echo "[e2e-cluster] ERROR: after cluster-down, the real node left:" >&2
    echo "$out" | sed 's/^/[e2e-cluster]   /' >&2
    exit 1
  fi
  sleep 1
done
say "real node $NODE_NAME ($NODE_NETNS): nothing left"
