#!/usr/bin/env bash
# Generates the e2e cluster's PKI with openssl into <dir> (default e2e/.cluster/pki):
#   ca.{crt,key}          cluster CA (signs the serving cert and every client cert)
#   apiserver.{crt,key}   kube-apiserver serving cert: 127.0.0.1, localhost, kubernetes.default...
#   admin.{crt,key}       client cert, O=system:masters (kubectl, kwok, tests)
#   controller-manager.{crt,key}, scheduler.{crt,key}: the components' own identities
#   node.{crt,key}        the real node's kubelet: system:node:paddle-e2e-node in system:nodes
#   sa.{key,pub}          service-account token signing key pair
#   issuer-ca.{crt,key}   CA of the ClusterIssuer paddle-e2e-ca (cert-manager CA issuer)
# Files that already exist are kept, so a restart reuses the same PKI.
set -euo pipefail
dir="${1:-$(cd "$(dirname "$0")/.." && pwd)/.cluster/pki}"
mkdir -p "$dir"; chmod 700 "$dir"; cd "$dir"

newkey() { [ -f "$1.key" ] || openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1.key" 2>/dev/null; }

ca() { # ca <name> <CN>
  [ -f "$1.crt" ] && return
  newkey "$1"
  openssl req -x509 -new -key "$1.key" -sha256 -days 3650 -subj "/CN=$2" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" -out "$1.crt"
}

leaf() { # leaf <name> <subject> <extendedKeyUsage> [subjectAltName]
  [ -f "$1.crt" ] && return
  newkey "$1"
  local ext; ext="$(mktemp)"
  {
    echo "basicConstraints=critical,CA:FALSE"
    echo "keyUsage=critical,digitalSignature,keyEncipherment"
    echo "extendedKeyUsage=$3"
    [ -n "${4:-}" ] && echo "subjectAltName=$4"
  } > "$ext"
  openssl req -new -key "$1.key" -subj "$2" -out "$1.csr"
  openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -sha256 -days 365 \
    -extfile "$ext" -out "$1.crt" 2>/dev/null
  rm -f "$1.csr" "$ext"
}

ca ca paddle-e2e-cluster-ca
leaf apiserver "/CN=kube-apiserver" serverAuth \
  "DNS:localhost,IP:127.0.0.1,IP:10.0.0.1,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
leaf admin "/O=system:masters/CN=paddle-e2e-admin" clientAuth
leaf controller-manager "/CN=system:kube-controller-manager" clientAuth
leaf scheduler "/CN=system:kube-scheduler" clientAuth
leaf node "/O=system:nodes/CN=system:node:paddle-e2e-node" clientAuth
[ -f sa.key ] || openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out sa.key 2>/dev/null
[ -f sa.pub ] || openssl pkey -in sa.key -pubout -out sa.pub
ca issuer-ca paddle-e2e-issuer-ca
chmod 600 ./*.key
