#!/usr/bin/env bash
# Initialise an empty data directory the way the official mariadb image does,
# then run the server in the foreground as the mysql user.
set -euo pipefail

datadir=/var/lib/mysql
socket=/run/mysqld/mysqld.sock

sql_quote() { printf "'%s'" "${1//\'/\'\'}"; }

wait_for_socket() {
  local i
  for i in $(seq 60); do
    mariadb-admin --socket="$socket" ping >/dev/null 2>&1 && return 0
    sleep 1
  done
  echo "stand-in mariadb: temporary server did not start" >&2
  return 1
}

initialise() {
  : "${MARIADB_ROOT_PASSWORD:?MARIADB_ROOT_PASSWORD must be set}"
  echo "stand-in mariadb: initialising $datadir"
  mariadb-install-db --user=mysql --datadir="$datadir" --skip-test-db \
    --auth-root-authentication-method=normal >/dev/null
  mariadbd --user=mysql --datadir="$datadir" --skip-networking --socket="$socket" &
  local pid=$!
  wait_for_socket

  local health_password; health_password="$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  {
    echo "SET PASSWORD FOR 'root'@'localhost' = PASSWORD($(sql_quote "$MARIADB_ROOT_PASSWORD"));"
    echo "CREATE USER 'root'@'%' IDENTIFIED BY $(sql_quote "$MARIADB_ROOT_PASSWORD");"
    echo "GRANT ALL ON *.* TO 'root'@'%' WITH GRANT OPTION;"
    for host in 127.0.0.1 ::1 localhost; do
      echo "CREATE USER 'healthcheck'@'$host' IDENTIFIED BY '$health_password';"
    done
    if [ -n "${MARIADB_DATABASE:-}" ]; then
      echo "CREATE DATABASE IF NOT EXISTS \`$MARIADB_DATABASE\`;"
    fi
    if [ -n "${MARIADB_USER:-}" ]; then
      echo "CREATE USER $(sql_quote "$MARIADB_USER")@'%' IDENTIFIED BY $(sql_quote "${MARIADB_PASSWORD:?}");"
      [ -n "${MARIADB_DATABASE:-}" ] && echo "GRANT ALL ON \`$MARIADB_DATABASE\`.* TO $(sql_quote "$MARIADB_USER")@'%';"
    fi
  } | mariadb --socket="$socket" -uroot
  printf '[mariadb-client]\nport=3306\nprotocol=tcp\nhost=127.0.0.1\nuser=healthcheck\npassword=%s\n' \
    "$health_password" >"$datadir/.my-healthcheck.cnf"

  local f
  for f in /docker-entrypoint-initdb.d/*; do
    case "$f" in
      *.sql) echo "stand-in mariadb: running $f"
             mariadb --socket="$socket" -uroot -p"$MARIADB_ROOT_PASSWORD" ${MARIADB_DATABASE:+"$MARIADB_DATABASE"} <"$f" ;;
      *.sh) echo "stand-in mariadb: running $f"; . "$f" ;;
    esac
  done
  mariadb-admin --socket="$socket" -uroot -p"$MARIADB_ROOT_PASSWORD" shutdown
  wait "$pid"
}

if [ "${1:-}" = mariadbd ]; then
  [ -d "$datadir/mysql" ] || initialise
  shift
  exec mariadbd --user=mysql --datadir="$datadir" --socket="$socket" \
    --bind-address=0.0.0.0 --character-set-server=utf8mb4 --collation-server=utf8mb4_unicode_ci "$@"
fi
exec "$@"
