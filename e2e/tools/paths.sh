# shellcheck shell=bash disable=SC2034  # variables are used by the scripts that source this
# Sourced by the e2e scripts after versions.env: where the pinned binaries live.
BIN_ROOT="${PADDLE_OPERATOR_CACHE:-$HOME/.cache/paddle-operator}/bin"
K8S_BIN="$BIN_ROOT/kubernetes-$KUBERNETES_VERSION"
KUBELET_BIN="$BIN_ROOT/kubelet-$KUBERNETES_VERSION"
CERT_MANAGER_BIN="$BIN_ROOT/cert-manager-$CERT_MANAGER_VERSION"
ETCD_BIN="$BIN_ROOT/etcd-$ETCD_VERSION"
KWOK_BIN="$BIN_ROOT/kwok-$KWOK_VERSION"
HELM_BIN="$BIN_ROOT/helm-$HELM_VERSION"
