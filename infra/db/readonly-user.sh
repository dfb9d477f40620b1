# The read-only database user the phpmyadmin tool logs in as: evcharging_ro, with
# SELECT on evcharging_db.* and nothing else, its password DB_READONLY_PASSWORD.
#
# Mounted as /docker-entrypoint-initdb.d/02-readonly.sh, so the mariadb image (the
# official one and the stand-in alike) sources it once, on an empty volume, after
# 01-init.sql. `make tools` runs it again in the running container, for volumes
# made before this user existed and to apply a changed DB_READONLY_PASSWORD: every
# statement is idempotent. It speaks to the server as root over the local socket.
(
  set -eu
  password="${DB_READONLY_PASSWORD:?DB_READONLY_PASSWORD must be set (make secrets)}"
  password="${password//\\/\\\\}"
  password="${password//\'/\\\'}"
  MYSQL_PWD="$MARIADB_ROOT_PASSWORD" mariadb --protocol=socket --socket="${SOCKET:-/run/mysqld/mysqld.sock}" -uroot <<SQL
CREATE USER IF NOT EXISTS 'evcharging_ro'@'%' IDENTIFIED BY '$password';
ALTER USER 'evcharging_ro'@'%' IDENTIFIED BY '$password';
GRANT SELECT ON \`evcharging_db\`.* TO 'evcharging_ro'@'%';
SQL
  echo "read-only user evcharging_ro: ready (SELECT on evcharging_db.*)"
)
