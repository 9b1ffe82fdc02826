#!/usr/bin/env bash
# Exit 0 when the e2e cluster is running (every recorded process alive, API server ready).
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
for c in $COMPONENTS; do
  pid="$(recorded_pid "$c")" || { say "$c is not running"; exit 1; }
  say "$c running (pid $pid)"
done
"$K8S_BIN/kubectl" --kubeconfig "$KUBECONFIG_FILE" get --raw /readyz >/dev/null || { say "API server not ready"; exit 1; }
say "API server ready; export KUBECONFIG=$KUBECONFIG_FILE"
