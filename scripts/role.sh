#!/usr/bin/env bash
# Start this machine's part of EVCharging: `make up [ROLE=…]`. The role comes from the
# command line, else from .env (where the first `make up ROLE=…` keeps it):
#   all      (default) the whole stack on this machine, as in the README's quick start
#   central  Kafka, MariaDB, central-auth, central-stream, central-web, reachable by
#            other machines at CENTRAL_HOST; writes the kits sites and drivers start from
#   site     charging points (CP=N, default 1); KIT=<the central's kits/site folder>
#   driver   the driver app; KIT=<the central's kits/driver folder>
#   scripts/role.sh kit site|driver DIR   (re)write a kit from this central's settings
# KAFKA_NODES=3 (all, central) runs Kafka as three nodes (infra/kafka-cluster.yml).
# docs/deploy.md walks through a lab of three machines.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

say() { echo "[up] $*"; }
die() { echo "[up] $*" >&2; exit 1; }

keep() {  # NAME VALUE: write it to .env, so plain `docker compose` sees it too
  { grep -v "^$1=" .env || true; echo "$1=$2"; } >.env.new
  chmod 600 .env.new
  mv .env.new .env
}

kafka_files() {  # the compose files of KAFKA_NODES (1, the default, or 3)
  local nodes
  nodes="$(setting KAFKA_NODES)"
  case "${nodes:-1}" in
    1) echo infra/compose.yml ;;
    3) echo infra/compose.yml:infra/kafka-cluster.yml ;;
    *) die "KAFKA_NODES=$nodes: 1 (one broker, the default) or 3 (three nodes, any one of which may fail)" ;;
  esac
}

use_kafka_nodes() {  # keep KAFKA_NODES and its COMPOSE_FILE in .env, so plain `docker compose` agrees
  local files
  files="$(kafka_files)"
  if [ "$(setting COMPOSE_FILE)" != "$files" ]; then
    keep KAFKA_NODES "$(setting KAFKA_NODES | grep . || echo 1)"
    keep COMPOSE_FILE "$files"
    say "Kafka runs as $(setting KAFKA_NODES) node(s): COMPOSE_FILE=$files in .env"
  fi
  export COMPOSE_FILE="$files"
}

compose_up() {
  docker compose up -d --build --wait --wait-timeout 300 "$@"
}

write_kit() {  # ROLE DIR: what a site or driver machine needs of this central
  local role="$1" dir="$2" password
  password="$(setting "KAFKA_${role^^}_PASSWORD")"
  [ -n "$password" ] || die "KAFKA_${role^^}_PASSWORD is not in .env: run 'make secrets'"
  mkdir -p "$dir"
  chmod 700 "$dir"
  cp "${PKI_DIR:-pki}/ca.crt" "$dir/ca.crt"
  {
    echo "# EVCharging $role kit, made by the central on $(date -u +%F). Never commit this file."
    echo "ROLE=$role"
    echo "COMPOSE_FILE=infra/$role.yml"
    echo "COMPOSE_PROJECT_NAME=evcharging-$role"
    echo "CENTRAL_HOST=$(setting CENTRAL_HOST)"
    echo "KAFKA_BROKERS=$(external_brokers)"
    echo "KAFKA_${role^^}_PASSWORD=$password"
    if [ "$role" = site ]; then
      echo "AUTH_TLS_PORT=$(setting AUTH_TLS_HOST_PORT)"
      echo "CP_ENROLMENT_KEY=$(setting CP_ENROLMENT_KEY)"
    fi
  } | sed -e '/=$/d' >"$dir/.env"
  chmod 600 "$dir/.env"
}

external_brokers() {  # every broker's address for other hosts, as the kits list them
  local host port nodes
  host="$(setting CENTRAL_HOST)"
  port="$(setting KAFKA_EXTERNAL_PORT | grep . || echo 9095)"
  nodes="$host:$port"
  if [ "$(setting KAFKA_NODES | grep . || echo 1)" = 3 ]; then
    nodes+=",$host:$(setting KAFKA_EXTERNAL_PORT_2 | grep . || echo 9097)"
    nodes+=",$host:$(setting KAFKA_EXTERNAL_PORT_3 | grep . || echo 9099)"
  fi
  echo "$nodes"
}

join() {  # ROLE: install the central's kit (KIT=dir) as this machine's .env and CA
  local role="$1" kit="${KIT:-}"
  if [ -n "$kit" ]; then
    [ -f "$kit/.env" ] && [ -f "$kit/ca.crt" ] || die "KIT=$kit is not a $role kit: it needs .env and ca.crt (the central's kits/$role)"
    grep -q "^ROLE=$role$" "$kit/.env" || die "KIT=$kit is not a $role kit (its .env says $(grep ^ROLE= "$kit/.env"))"
    [ ! -f .env ] || cp .env .env.before-kit
    install -m 600 "$kit/.env" .env
    [ ! -f infra/images.env ] || scripts/dotenv.sh images infra/images.env
    install -d -m 755 pki
    install -m 644 "$kit/ca.crt" pki/ca.crt
    say "installed the $role kit from $kit"
  fi
  [ "$(setting ROLE)" = "$role" ] || die "this machine has no $role kit yet: make up ROLE=$role KIT=<the central's kits/$role folder>"
  [ -f pki/ca.crt ] || die "pki/ca.crt is missing: copy the central's kits/$role folder here and give it as KIT=…"
}

up_central() {
  local host
  host="$(setting CENTRAL_HOST)"
  [ -n "$host" ] || die "ROLE=central needs CENTRAL_HOST: this machine's address as sites and drivers reach it (e.g. make up ROLE=central CENTRAL_HOST=192.168.1.10)"
  keep ROLE central
  keep CENTRAL_HOST "$host"
  keep PUBLISH_ADDRESS "$(setting PUBLISH_ADDRESS | grep . || echo 0.0.0.0)"
  use_kafka_nodes
  scripts/preflight.sh
  scripts/pki.sh
  compose_up --scale cp-engine=0 --scale driver=0
  write_kit site kits/site
  write_kit driver kits/driver
  say "the central is up at $host; its status page, on this machine: http://localhost:$(setting WEB_HOST_PORT | grep . || echo 8080)"
  say "copy kits/site to each CP site and kits/driver to each driver machine (they hold passwords: by hand, not by mail)"
}

main() {
  if [ "${1:-}" = kit ]; then
    write_kit "${2:?kit site|driver DIR}" "${3:?kit site|driver DIR}"
    return
  fi
  local role
  role="$(setting ROLE)"
  case "${role:-all}" in
    all)
      use_kafka_nodes
      scripts/preflight.sh
      scripts/pki.sh
      compose_up
      say "EVCharging is up. Status page: http://localhost:$(setting WEB_HOST_PORT | grep . || echo 8080)"
      ;;
    central) up_central ;;
    site)
      join site
      compose_up --scale "cp-engine=${CP:-1}"
      say "${CP:-1} charging point(s) up, connected to the central at $(setting CENTRAL_HOST)"
      ;;
    driver)
      join driver
      compose_up
      say "the driver app is up: docker compose exec driver driver list"
      ;;
    *) die "ROLE=$role: one of all, central, site, driver" ;;
  esac
}

main "$@"
