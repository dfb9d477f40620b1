#!/usr/bin/env bash
# Stand-in for the official image's healthcheck.sh: --connect checks that the
# server accepts TCP connections (the init-time server listens on no port),
# --innodb_initialized checks that InnoDB is ready.
set -eu
query() { mariadb --defaults-extra-file=/var/lib/mysql/.my-healthcheck.cnf -sN -e "$1"; }
for test in "$@"; do
  case "$test" in
    --connect) query "SELECT 1" >/dev/null ;;
    --innodb_initialized)
      [ "$(query "SELECT COUNT(*) FROM information_schema.ENGINES WHERE ENGINE='InnoDB' AND SUPPORT IN ('YES','DEFAULT')")" = 1 ] ;;
    --su-mysql|--defaults-file=*) ;;
    *) echo "healthcheck.sh: unsupported test $test" >&2; exit 2 ;;
  esac
done
