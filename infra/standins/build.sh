#!/usr/bin/env bash
# Make sure the images infra/compose.yml needs exist, and write infra/images.env.
#
# On a machine that can reach Docker Hub this pulls the official images and the
# env file is empty. Where no container registry is reachable it builds
# stand-ins with the same interface (environment variables, ports, init
# scripts, health commands) from Debian packages and Maven Central, and points
# compose at them. The services' Dockerfile (services/Dockerfile) is the same either way.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
env_file="$here/../images.env"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/evcharging"
prefix="evcharging-standin"
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"

# The official images and the stand-ins that replace them.
declare -A official=(
  [PYTHON_IMAGE]="python:3.11-slim"
  [KAFKA_IMAGE]="apache/kafka:4.1.1"
  [MARIADB_IMAGE]="mariadb:11.4"
  [PHPMYADMIN_IMAGE]="phpmyadmin:5.2"
)
declare -A standin=(
  [PYTHON_IMAGE]="$prefix/python:3.11-slim"
  [KAFKA_IMAGE]="$prefix/kafka:4.1.1"
  [MARIADB_IMAGE]="$prefix/mariadb:10.11"
  [PHPMYADMIN_IMAGE]="$prefix/phpmyadmin:5.2"
)
kafka_version="4.1.1"

log() { printf '[images] %s\n' "$*" >&2; }
have_image() { docker image inspect "$1" >/dev/null 2>&1; }

# A stand-in carries a digest of what it is built from (the label below): its folder
# (without the copies build_* put there), its build_* function, the Kafka version and
# the base image. When that changes, the next run rebuilds it, as
# EVCHARGING_REBUILD_STANDINS=1 forces for all.
inputs_label="org.evcharging.standin.inputs"
inputs_of() {
  local name=$1
  {
    (cd "$here/$name" && find . -type f ! -name host-ca.crt ! -path './libs/*' -print0 \
      | LC_ALL=C sort -z | xargs -0 sha256sum)
    declare -f "build_$name"
    echo "kafka $kafka_version"
    docker image inspect -f '{{.Id}}' "$prefix/debian:bookworm"
  } | sha256sum | cut -c1-16
}
built_from() {
  docker image inspect -f "{{index .Config.Labels \"$inputs_label\"}}" "$1" 2>/dev/null || true
}

official_images_available() {
  local var
  for var in "${!official[@]}"; do
    have_image "${official[$var]}" && continue
    timeout 60 docker pull -q "${official[$var]}" >/dev/null 2>&1 || return 1
  done
}

build_base() {
  have_image "$prefix/debian:bookworm" && return
  mkdir -p "$cache"
  if [ ! -s "$cache/bookworm.tar" ]; then
    log "debootstrap bookworm (minbase) from $mirror"
    local root; root="$(mktemp -d)"
    debootstrap --variant=minbase bookworm "$root" "$mirror" >"$cache/debootstrap.log" 2>&1 \
      || { tail -20 "$cache/debootstrap.log" >&2; exit 1; }
    tar -C "$root" -cf "$cache/bookworm.tar.tmp" . && mv "$cache/bookworm.tar.tmp" "$cache/bookworm.tar"
    rm -rf "$root"
  fi
  docker import "$cache/bookworm.tar" "$prefix/debian:bookworm" >/dev/null
}

build_python() {
  # pip inside the build needs the CA bundle pip on this host is configured with.
  local ca; ca="$(pip config get global.cert 2>/dev/null || echo /etc/ssl/certs/ca-certificates.crt)"
  cp "$ca" "$here/python/host-ca.crt"
  docker build -q -t "${standin[PYTHON_IMAGE]}" --build-arg BASE="$prefix/debian:bookworm" "$@" "$here/python" >/dev/null
  rm -f "$here/python/host-ca.crt"
}

build_kafka() {
  # The jars are fetched once per Kafka version and pom.xml: a changed pom fetches anew.
  local libs
  libs="$cache/kafka-$kafka_version-$(sha256sum "$here/kafka/pom.xml" | cut -c1-12)/libs"
  if [ ! -d "$libs" ]; then
    log "fetching Apache Kafka $kafka_version broker jars from Maven Central"
    mvn -q -f "$here/kafka/pom.xml" -Dkafka.version="$kafka_version" \
      dependency:copy-dependencies -DoutputDirectory="$libs.tmp" -DincludeScope=runtime
    mv "$libs.tmp" "$libs"
  fi
  rm -rf "$here/kafka/libs" && cp -r "$libs" "$here/kafka/libs"
  docker build -q -t "${standin[KAFKA_IMAGE]}" --build-arg BASE="$prefix/debian:bookworm" "$@" "$here/kafka" >/dev/null
  rm -rf "$here/kafka/libs"
}

build_mariadb() {
  docker build -q -t "${standin[MARIADB_IMAGE]}" --build-arg BASE="$prefix/debian:bookworm" "$@" "$here/mariadb" >/dev/null
}

build_phpmyadmin() {
  docker build -q -t "${standin[PHPMYADMIN_IMAGE]}" --build-arg BASE="$prefix/debian:bookworm" "$@" "$here/phpmyadmin" >/dev/null
}

main() {
  if [ "${EVCHARGING_STANDINS:-auto}" != "always" ] && official_images_available; then
    log "using the official images"
    : >"$env_file"
    return
  fi
  log "no container registry reachable: building stand-in images from Debian packages"
  build_base
  local name
  for name in python kafka mariadb phpmyadmin; do
    local var="${name^^}_IMAGE" inputs
    inputs="$(inputs_of "$name")"
    if [ "$(built_from "${standin[$var]}")" = "$inputs" ] && [ "${EVCHARGING_REBUILD_STANDINS:-0}" != 1 ]; then
      continue
    fi
    log "building ${standin[$var]} (stands in for ${official[$var]})"
    "build_$name" --label "$inputs_label=$inputs"
  done
  {
    echo "# Written by infra/standins/build.sh: stand-ins for the official images."
    for var in PYTHON_IMAGE KAFKA_IMAGE MARIADB_IMAGE PHPMYADMIN_IMAGE; do echo "$var=${standin[$var]}"; done
  } >"$env_file"
  log "stand-in images ready (see $env_file)"
}

main "$@"
