#!/usr/bin/env bash
# Builds the S3 test server (main.go: rclone/gofakes3 at the version go.mod pins) from the Go
# module proxy into $CACHE_DIR/bin/s3server-<gofakes3 version>-<source hash>/s3server, once
# per source hash (a lock lets several working trees share the cache), and prints its path.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cache="${CACHE_DIR:-${PADDLE_OPERATOR_CACHE:-$HOME/.cache/paddle-operator}}"
version="$(sed -n 's/^require github.com\/rclone\/gofakes3 //p' "$here/go.mod")"
key="$(cat "$here/main.go" "$here/go.mod" "$here/go.sum" | sha256sum | cut -c1-12)"
dir="$cache/bin/s3server-$version-$key"
bin="$dir/s3server"
if [ ! -x "$bin" ]; then
  command -v go >/dev/null || { echo "go is required to build the S3 test server (e2e/tools/s3server)" >&2; exit 1; }
  mkdir -p "$dir"
  exec 9>"$dir/.build.lock"
  flock 9
  if [ ! -x "$bin" ]; then
    echo "==> building the S3 test server (rclone/gofakes3 $version) into $dir" >&2
    (cd "$here" && GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=readonly go build -trimpath -o "$bin.tmp" .)
    mv "$bin.tmp" "$bin"
  fi
fi
echo "$bin"
