#!/usr/bin/env bash
# Builds the images here, without a container engine or a registry: the root filesystem from
# images/rootfs.sh (the same script the Dockerfiles' build stage runs), the config from the
# Dockerfile's runtime stage (images/dockerfile.ts), packed by umoci into an OCI archive that the
# real node's containerd imports (ctr images import). Each image is cached by the content hash of
# its root filesystem and config: $CACHE_DIR/images/<name>-<hash>.tar, named
# docker.io/paddle-e2e/<name>:<hash>.
#   sidecar, operator  need `make build-native build-ts` first (make images does it)
#   pause              the node's pod sandbox (e2e/tools/pause, static Go)
# Prints one line per image: <name> <reference> <archive>.
# Usage: build.sh <sidecar|operator|pause>...
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
cache="${CACHE_DIR:-${PADDLE_OPERATOR_CACHE:-$HOME/.cache/paddle-operator}}/images"
mkdir -p "$cache"
log() { echo "[images] $*" >&2; }
command -v umoci >/dev/null || {
  log "installing umoci (Debian)"; apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq umoci >/dev/null; }

# prod_modules: the sidecar's production node_modules (npm ci --omit=dev), cached by the lockfile.
prod_modules() {
  local key dir
  key="$(cat "$root/package.json" "$root/package-lock.json" | sha256sum | cut -c1-16)"
  dir="$cache/node-modules-$key"
  if [ ! -d "$dir/node_modules" ]; then
    log "production node_modules (npm ci --omit=dev) into $dir"
    local tmp; tmp="$(mktemp -d "$cache/.modules.XXXXXX")"
    cp "$root/package.json" "$root/package-lock.json" "$tmp/"
    (cd "$tmp" && npm ci --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error >&2)
    rm -f "$tmp/package.json" "$tmp/package-lock.json"
    rm -rf "$dir"; mv "$tmp" "$dir"
  fi
  echo "$dir/node_modules"
}

# tree_hash <dir> [extra]: content hash of a directory (paths, modes, owners, link targets, bytes).
tree_hash() {
  { (cd "$1" && find . -printf '%M %U %G %l %p\n' | LC_ALL=C sort
     find . -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum); echo "${2:-}"; } | sha256sum | cut -c1-16
}

# inputs_hash <name> <modules>: what rootfs.sh reads from the repository and the caches (the
# Debian packages are the cached .debs, keyed by the package list in image.env).
inputs_hash() {
  local name="$1" modules="$2" d
  {
    cat "$here/rootfs.sh" "$here/image.env" "$here/$name.Dockerfile" "$root/package.json"
    echo "$modules"
    for d in dist/crds dist/native dist/sidecar dist/operator/main.js dist/operator/src/kube-client.js build/Release/paddle_native.node; do
      [ -e "$root/$d" ] && (cd "$root" && find "$d" -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum)
    done
  } | sha256sum | cut -c1-16
}

build_one() {
  local name="$1" work rootfs umoci_args=()
  work="$(mktemp -d "$cache/.build-$name.XXXXXX")"
  # shellcheck disable=SC2064
  trap "rm -rf '$work'" RETURN
  rootfs="$work/rootfs"
  if [ "$name" = pause ]; then
    mkdir -p "$rootfs"
    (cd "$root/e2e/tools/pause" && GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=mod \
      go build -trimpath -ldflags "-s -w" -o "$rootfs/pause" pause.go)
    umoci_args=(--config.user 65535:65535 --config.entrypoint /pause)
  else
    local dockerfile="$here/$name.Dockerfile" args=()
    mapfile -t args < <(node --import tsx "$here/dockerfile.ts" rootfs-command "$dockerfile")
    [ "${args[0]}" = "$name" ] || { log "$dockerfile runs rootfs.sh for ${args[0]}, not $name"; return 1; }
    local modules=""
    [ "$name" = sidecar ] && modules="$(prod_modules)"
    for f in dist/crds dist/operator/main.js dist/operator/src/kube-client.js; do
      [ -e "$root/$f" ] || { log "$root/$f missing: run make build-ts (make images does)"; return 1; }
    done
    # Fast path: the same inputs as an image already packed (the tree is not assembled again).
    local inputs
    inputs="$(inputs_hash "$name" "$modules")"
    if [ -s "$cache/$name-inputs-$inputs" ] && [ -s "$(cut -d' ' -f3 < "$cache/$name-inputs-$inputs")" ]; then
      log "$name: inputs unchanged ($inputs), $(cut -d' ' -f2 < "$cache/$name-inputs-$inputs")"
      cat "$cache/$name-inputs-$inputs"
      return 0
    fi
    DEB_CACHE="$cache/debs" "$here/rootfs.sh" "$name" "$rootfs" "$root" $modules >&2
    mapfile -t umoci_args < <(node --import tsx "$here/dockerfile.ts" umoci-args "$dockerfile")
  fi
  local hash ref tar
  hash="$(tree_hash "$rootfs" "${umoci_args[*]}")"
  ref="docker.io/paddle-e2e/$name:$hash"
  tar="$cache/$name-$hash.tar"
  if [ ! -s "$tar" ]; then
    log "packing $ref (umoci)"
    local layout="$work/layout"
    umoci init --layout "$layout"
    umoci new --image "$layout:$hash"
    umoci insert --image "$layout:$hash" "$rootfs" / >/dev/null
    umoci config --image "$layout:$hash" "${umoci_args[@]}"
    umoci gc --layout "$layout"
    # The name containerd gives the image on import.
    python3 - "$layout/index.json" "$ref" <<'PY'
import json, sys
path, ref = sys.argv[1], sys.argv[2]
index = json.load(open(path))
for m in index["manifests"]:
    m.setdefault("annotations", {})["io.containerd.image.name"] = ref
json.dump(index, open(path, "w"))
PY
    tar -C "$layout" -cf "$tar.tmp" . && mv "$tar.tmp" "$tar"
  else
    log "$ref: cached in $tar"
  fi
  [ -n "${inputs:-}" ] && echo "$name $ref $tar" > "$cache/$name-inputs-$inputs"
  echo "$name $ref $tar"
}

[ $# -gt 0 ] || { echo "usage: build.sh <sidecar|operator|pause>..." >&2; exit 2; }
exec 8> "$cache/.build.lock"; flock 8
for n in "$@"; do
  case "$n" in sidecar|operator|pause) build_one "$n" ;; *) echo "unknown image $n" >&2; exit 2 ;; esac
done
