#!/usr/bin/env bash
# Exit 0 when nothing of this cluster's real node is left on the machine (processes, cgroups,
# network namespace, mounts, interfaces, state directory); otherwise lists what is and exits 1.
# make test-e2e runs it after cluster-down.
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
if out="$(node_leftovers)"; then
  say "real node $NODE_NAME ($NODE_NETNS): nothing left"
else
  echo "[e2e-cluster] ERROR: after cluster-down, the real node left:" >&2
  echo "$out" | sed 's/^/[e2e-cluster]   /' >&2
  exit 1
fi
