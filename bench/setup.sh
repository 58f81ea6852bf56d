#!/usr/bin/env bash
# weft bench setup: installs the reference proxies and load generators (Debian
# packages) when missing, and makes the HAProxy and nginx pairs' certificates (ECDSA P-256).
# Idempotent: a second run changes nothing.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"

# haproxy and nginx live in /usr/sbin, which is not on every user's PATH.
has() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ]; }
bin() { command -v "$1" 2>/dev/null || echo "/usr/sbin/$1"; }
need=()
# Debian bookworm's `nginx` package is the server with SSL, HTTP/2 and gRPC proxying
# built in (nginx-light only adds a module to it).
has haproxy || need+=(haproxy)
has nginx   || need+=(nginx)
command -v wrk     >/dev/null 2>&1 || need+=(wrk)
command -v h2load  >/dev/null 2>&1 || need+=(nghttp2-client)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
if [ ${#need[@]} -gt 0 ]; then
  echo "bench/setup.sh: installing ${need[*]}" >&2
  SUDO=""
  if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get install -y --no-install-recommends "${need[@]}" >/dev/null || {
    $SUDO apt-get update >/dev/null && $SUDO apt-get install -y --no-install-recommends "${need[@]}" >/dev/null
  }
fi

# Certificates for the HAProxy and nginx pairs: a CA, a server certificate for B, a
# client certificate for A. All ECDSA P-256, like weft's workload certificates.
certs="$here/.certs"
if [ ! -s "$certs/b.pem" ] || [ ! -s "$certs/a.pem" ] || [ ! -s "$certs/ca.crt" ]; then
  rm -rf "$certs"; mkdir -p "$certs"; cd "$certs"
  openssl ecparam -name prime256v1 -genkey -noout -out ca.key 2>/dev/null
  openssl req -x509 -new -key ca.key -sha256 -days 3650 -subj "/CN=weft-bench-ca" -out ca.crt 2>/dev/null
  for who in a b; do
    openssl ecparam -name prime256v1 -genkey -noout -out "$who.key" 2>/dev/null
    openssl req -new -key "$who.key" -subj "/CN=haproxy-$who" -out "$who.csr" 2>/dev/null
    printf 'subjectAltName=DNS:haproxy-%s,URI:spiffe://cluster.local/ns/bench/sa/haproxy-%s,IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n' "$who" "$who" > "$who.ext"
    openssl x509 -req -in "$who.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 3650 -sha256 -extfile "$who.ext" -out "$who.crt" 2>/dev/null
    cat "$who.crt" "$who.key" > "$who.pem"
  done
  rm -f ./*.csr ./*.ext ca.srl
  chmod 600 ./*.key ./*.pem
fi
echo "bench/setup.sh: ok ($("$(bin haproxy)" -v | head -1 | cut -d' ' -f1-3); $("$(bin nginx)" -v 2>&1); $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2); $(h2load --version))" >&2
