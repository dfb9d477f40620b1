#!/usr/bin/env bash
# The project's own certificate authority, and the central's certificate signed by it:
#   scripts/pki.sh [DIR]        create DIR (default $PKI_DIR, else pki/) once; afterwards only re-issue
#                               the central's certificate when CENTRAL_HOST is not in it
# Like .env, DIR is git-ignored and never enters an image. What other machines need of it
# is only ca.crt (public): sites and drivers verify the central with it.
#
#   ca.crt, ca.key        the CA (ten years)
#   central.crt/.key      central-auth's TLS certificate; names: localhost, kafka,
#                         central-auth, 127.0.0.1, and CENTRAL_HOST (a name or an IP)
#   broker.p12            the same certificate and key for Kafka's SASL_SSL listener,
#                         as PKCS12 locked with KAFKA_KEYSTORE_PASSWORD (from .env)
set -euo pipefail
cd "$(dirname "$0")/.."
dir="${1:-${PKI_DIR:-pki}}"
. scripts/lib.sh

central_host="$(setting CENTRAL_HOST)"
keystore_password="$(setting KAFKA_KEYSTORE_PASSWORD)"
if [ -z "$keystore_password" ]; then
  echo "[pki] KAFKA_KEYSTORE_PASSWORD is not set: run 'make secrets' first" >&2
  exit 1
fi

umask 077
mkdir -p "$dir"

if [ ! -f "$dir/ca.crt" ]; then
  openssl req -x509 -newkey rsa:3072 -nodes -days 3650 -sha256 \
    -subj "/O=EVCharging/CN=EVCharging project CA" \
    -keyout "$dir/ca.key" -out "$dir/ca.crt" 2>/dev/null
  chmod 0644 "$dir/ca.crt"
  echo "[pki] created the project CA: $dir/ca.crt (copy it to every site and driver machine)"
fi

names="DNS:localhost,DNS:kafka,DNS:central-auth,IP:127.0.0.1"
if [ -n "$central_host" ]; then
  if [[ "$central_host" =~ ^[0-9.]+$ || "$central_host" == *:* ]]; then
    names="$names,IP:$central_host"
  else
    names="$names,DNS:$central_host"
  fi
fi

issued_for="$(cat "$dir/central.names" 2>/dev/null || true)"
if [ ! -f "$dir/central.crt" ] || [ "$issued_for" != "$names" ]; then
  openssl req -newkey rsa:3072 -nodes -sha256 -subj "/O=EVCharging/CN=EVCharging central" \
    -keyout "$dir/central.key" -out "$dir/central.csr" 2>/dev/null
  openssl x509 -req -in "$dir/central.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" \
    -CAcreateserial -days 825 -sha256 -out "$dir/central.crt" \
    -extfile <(printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth\n' "$names") 2>/dev/null
  rm -f "$dir/central.csr"
  printf '%s\n' "$names" >"$dir/central.names"
  rm -f "$dir/broker.p12"
  echo "[pki] issued the central's certificate for $names"
fi

if [ ! -f "$dir/broker.p12" ]; then
  openssl pkcs12 -export -name kafka -in "$dir/central.crt" -inkey "$dir/central.key" \
    -certfile "$dir/ca.crt" -out "$dir/broker.p12" -passout "pass:$keystore_password"
fi
