#!/usr/bin/env bash
# Builds (once) the local control-plane binaries pinned in versions.env and
# caches them outside the repository:
#   ~/.cache/paddle-operator/bin/kubernetes-<v>/  kube-apiserver kube-controller-manager kube-scheduler kubectl
#   ~/.cache/paddle-operator/bin/kubelet-<v>/     kubelet (the real node's agent, module tools/kubelet)
#   ~/.cache/paddle-operator/bin/cert-manager-<v>/ cert-manager (controller, module tools/cert-manager)
#   ~/.cache/paddle-operator/bin/etcd-<v>/        etcd
#   ~/.cache/paddle-operator/bin/kwok-<v>/        kwok
#   ~/.cache/paddle-operator/bin/helm-<v>/        helm
# Each directory holds a .stamp; a directory is rebuilt only when its stamp
# (pinned version + tools go.mod/go.sum + Go version) changes.
# Usage: build.sh [all|kubernetes|kubelet|etcd|kwok|helm|cert-manager]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=/dev/null
. "$here/versions.env"
# shellcheck source=/dev/null
. "$here/paths.sh"

export GOTOOLCHAIN=local CGO_ENABLED=0
jobs="${BUILD_JOBS:-2}"
gover="$(go env GOVERSION)"

log() { echo "[e2e-tools] $*"; }

# stamp_of <version> [files...]: a fingerprint of what a directory was built from (file
# contents only, not their paths, so every clone of the repo shares one cache).
stamp_of() {
  local v="$1"; shift
  { echo "$v $gover"; for f in "$@"; do sha256sum < "$f"; done; } | sha256sum | cut -d' ' -f1
}

# up_to_date <dir> <stamp>
up_to_date() { [ -f "$1/.stamp" ] && [ "$(cat "$1/.stamp")" = "$2" ]; }

# finish <tmpdir> <dir> <stamp>: move a finished build into place atomically.
finish() {
  local tmp="$1" dir="$2" stamp="$3"
  echo "$stamp" > "$tmp/.stamp"
  rm -rf "$dir.old"; [ -d "$dir" ] && mv "$dir" "$dir.old"
  mv "$tmp" "$dir"; rm -rf "$dir.old"
}

check_mod() { # check_mod <go.mod> <module> <version>
  if ! grep -qE "^[[:space:]]*(require )?$2 $3( |\$)" "$1"; then
    echo "[e2e-tools] $1 does not require $2 $3 (versions.env changed?)." >&2
    echo "[e2e-tools] Run 'make e2e-tools-mod' (e2e/tools/gen-mods.sh) and commit the result." >&2
    exit 1
  fi
}

# k8s_ldflags: the version ldflags, so `kubectl version`, /version and the node's kubeletVersion
# report KUBERNETES_VERSION.
k8s_ldflags() {
  local v="${KUBERNETES_VERSION#v}" major minor pkg
  major="${v%%.*}"; minor="${v#*.}"; minor="${minor%%.*}"
  local ld="-s -w"
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld+=" -X $pkg.gitVersion=$KUBERNETES_VERSION -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor"
    ld+=" -X $pkg.gitTreeState=archive -X $pkg.buildDate=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  done
  echo "$ld"
}

build_kubernetes() {
  local mod="$here/kubernetes"
  check_mod "$mod/go.mod" k8s.io/kubernetes "$KUBERNETES_VERSION"
  local stamp; stamp="$(stamp_of "$KUBERNETES_VERSION" "$mod/go.mod" "$mod/go.sum")"
  if up_to_date "$K8S_BIN" "$stamp"; then log "kubernetes $KUBERNETES_VERSION: cached in $K8S_BIN"; return; fi
  log "building kube-apiserver, kube-controller-manager, kube-scheduler, kubectl $KUBERNETES_VERSION"
  log "  into $K8S_BIN (go build -p $jobs). A first build takes long: 20-40 minutes on 2 cores."
  local ld; ld="$(k8s_ldflags)"
  local tmp; tmp="$(mktemp -d "$BIN_ROOT/.build-k8s.XXXXXX")"
  (cd "$mod" && go build -p "$jobs" -trimpath -ldflags "$ld" -o "$tmp/" \
    k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
    k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl)
  finish "$tmp" "$K8S_BIN" "$stamp"
  log "kubernetes $KUBERNETES_VERSION: built"
}

build_kubelet() {
  local mod="$here/kubelet"
  check_mod "$mod/go.mod" k8s.io/kubernetes "$KUBERNETES_VERSION"
  local stamp; stamp="$(stamp_of "$KUBERNETES_VERSION" "$mod/go.mod" "$mod/go.sum")"
  if up_to_date "$KUBELET_BIN" "$stamp"; then log "kubelet $KUBERNETES_VERSION: cached in $KUBELET_BIN"; return; fi
  log "building kubelet $KUBERNETES_VERSION into $KUBELET_BIN (a few minutes after the control plane's build)"
  local tmp; tmp="$(mktemp -d "$BIN_ROOT/.build-kubelet.XXXXXX")"
  (cd "$mod" && go build -p "$jobs" -trimpath -ldflags "$(k8s_ldflags)" -o "$tmp/" k8s.io/kubernetes/cmd/kubelet)
  finish "$tmp" "$KUBELET_BIN" "$stamp"
  log "kubelet $KUBERNETES_VERSION: built"
}

build_cert_manager() {
  local mod="$here/cert-manager"
  check_mod "$mod/go.mod" github.com/cert-manager/cert-manager "$CERT_MANAGER_VERSION"
  local stamp; stamp="$(stamp_of "$CERT_MANAGER_VERSION" "$mod/go.mod" "$mod/go.sum" "$mod/main.go")"
  if up_to_date "$CERT_MANAGER_BIN" "$stamp"; then log "cert-manager $CERT_MANAGER_VERSION: cached in $CERT_MANAGER_BIN"; return; fi
  log "building the cert-manager $CERT_MANAGER_VERSION controller into $CERT_MANAGER_BIN (a few minutes)"
  local tmp; tmp="$(mktemp -d "$BIN_ROOT/.build-cert-manager.XXXXXX")"
  (cd "$mod" && go build -p "$jobs" -trimpath -ldflags "-s -w" -o "$tmp/cert-manager" .)
  # cert-manager's own CRDs, from the same module (deploy/crds), beside the binary.
  local src; src="$(cd "$mod" && go list -m -f '{{.Dir}}' github.com/cert-manager/cert-manager)"
  mkdir -p "$tmp/crds"
  cp "$src"/deploy/crds/*.yaml "$tmp/crds/"
  finish "$tmp" "$CERT_MANAGER_BIN" "$stamp"
  log "cert-manager $CERT_MANAGER_VERSION: built"
}

build_etcd() {
  local mod="$here/etcd"
  check_mod "$mod/go.mod" go.etcd.io/etcd/server/v3 "$ETCD_VERSION"
  local stamp; stamp="$(stamp_of "$ETCD_VERSION" "$mod/go.mod" "$mod/go.sum")"
  if up_to_date "$ETCD_BIN" "$stamp"; then log "etcd $ETCD_VERSION: cached in $ETCD_BIN"; return; fi
  log "building etcd $ETCD_VERSION into $ETCD_BIN (first build takes a few minutes)"
  local tmp; tmp="$(mktemp -d "$BIN_ROOT/.build-etcd.XXXXXX")"
  (cd "$mod" && go build -p "$jobs" -trimpath -ldflags "-s -w" -o "$tmp/etcd" go.etcd.io/etcd/server/v3)
  finish "$tmp" "$ETCD_BIN" "$stamp"
  log "etcd $ETCD_VERSION: built"
}

build_install() { # build_install <name> <version> <dir> <pkg> <ldflags>
  local name="$1" ver="$2" dir="$3" pkg="$4" ld="$5"
  local stamp; stamp="$(stamp_of "$ver $pkg")"
  if up_to_date "$dir" "$stamp"; then log "$name $ver: cached in $dir"; return; fi
  log "building $name $ver into $dir (go install $pkg@$ver; first build takes a few minutes)"
  local tmp; tmp="$(mktemp -d "$BIN_ROOT/.build-$name.XXXXXX")"
  GOBIN="$tmp" GOFLAGS="${GOFLAGS:-} -mod=mod" go install -p "$jobs" -trimpath -ldflags "$ld" "$pkg@$ver"
  finish "$tmp" "$dir" "$stamp"
  log "$name $ver: built"
}

build_kwok() {
  build_install kwok "$KWOK_VERSION" "$KWOK_BIN" sigs.k8s.io/kwok/cmd/kwok \
    "-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=$KWOK_VERSION"
  # kwok (unlike kwokctl) starts with no Stage configuration. Use the default stages that ship
  # in the same kwok module release (node initialize + lease heartbeat, pod ready/complete/
  # delete), read from the Go module cache; they stay beside the binary, outside the repo.
  if [ ! -s "$KWOK_BIN/stages.yaml" ]; then
    local src; src="$(GOFLAGS=-mod=mod go mod download -json "sigs.k8s.io/kwok@$KWOK_VERSION" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')"
    local st="$src/kustomize/stage" f out="$KWOK_BIN/stages.yaml.tmp"
    : > "$out"
    for f in node/fast/node-initialize.yaml node/heartbeat-with-lease/node-heartbeat-with-lease.yaml \
             pod/fast/pod-ready.yaml pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml; do
      [ -f "$st/$f" ] || { echo "[e2e-tools] kwok $KWOK_VERSION has no stage $f in $st" >&2; exit 1; }
      { echo "---"; cat "$st/$f"; } >> "$out"
    done
    mv "$out" "$KWOK_BIN/stages.yaml"
    log "kwok $KWOK_VERSION: default stages written to $KWOK_BIN/stages.yaml"
  fi
}

build_helm() {
  build_install helm "$HELM_VERSION" "$HELM_BIN" helm.sh/helm/v3/cmd/helm \
    "-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION"
}

main() {
  mkdir -p "$BIN_ROOT"
  # One builder at a time per cache (several working trees may share it).
  exec 8> "$BIN_ROOT/.build.lock"
  flock -n 8 || { log "another build holds $BIN_ROOT/.build.lock; waiting"; flock 8; }
  case "${1:-all}" in
    all) build_etcd; build_kwok; build_helm; build_kubernetes; build_kubelet; build_cert_manager ;;
    kubernetes|kubelet|etcd|kwok|helm) "build_$1" ;;
    cert-manager) build_cert_manager ;;
    *) echo "usage: $0 [all|kubernetes|kubelet|cert-manager|etcd|kwok|helm]" >&2; exit 2 ;;
  esac
}

main "$@"; exit $?
