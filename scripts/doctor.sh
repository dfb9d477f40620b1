#!/usr/bin/env bash
# `make doctor`: check each link this machine's role needs (lib/evcharging/doctor.py), in
# the role's own image and on the host's network, so it sees the central as this
# machine's services do. Settings come from the environment, else .env.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

role="$(setting ROLE)"
case "${role:-all}" in
  site) image=evcharging/cp-engine ;;
  driver) image=evcharging/driver ;;
  *) image=evcharging/central-stream ;;
esac
if ! docker image inspect "$image" >/dev/null 2>&1; then
  echo "[doctor] the image $image is not here yet: run 'make up' first" >&2
  exit 1
fi
pki="$(setting PKI_DIR)"
ca="$(cd "${pki:-pki}" 2>/dev/null && pwd)/ca.crt"
[ -f "$ca" ] || { echo "[doctor] no project CA at ${pki:-pki}/ca.crt: make up (central), or install the kit (site, driver)" >&2; exit 1; }

# Passwords go in a private file, not on the command line (where `ps` would show them).
settings="$(mktemp)"
trap 'rm -f "$settings"' EXIT
for name in ROLE CENTRAL_HOST KAFKA_BROKERS KAFKA_NODES KAFKA_EXTERNAL_PORT KAFKA_EXTERNAL_PORT_2 KAFKA_EXTERNAL_PORT_3 AUTH_TLS_PORT AUTH_TLS_HOST_PORT WEB_HOST_PORT \
            DB_HOST_PORT KAFKA_HOST_PORT KAFKA_CENTRAL_PASSWORD KAFKA_SITE_PASSWORD KAFKA_DRIVER_PASSWORD; do
  value="$(setting "$name")"
  [ -z "$value" ] || echo "$name=$value" >>"$settings"
done
docker run --rm --network host --env-file "$settings" -v "$ca:/etc/evcharging/ca.crt:ro" \
  "$image" python -m evcharging.doctor
