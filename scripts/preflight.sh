#!/usr/bin/env bash
# Before the stack starts: are its data volumes usable with this .env's secrets?
#
# MariaDB keeps the passwords a volume was created with; a new .env (a second
# checkout, a deleted .env) brings new ones. Without this check the services
# are refused by the database and restart in a loop, and nothing says why.
# Here only MariaDB is started, a login is tried, and a refusal is explained.
set -euo pipefail
cd "$(dirname "$0")/.."

# The environment wins over .env, as it does for docker compose.
while IFS='=' read -r name value; do
  [[ "$name" =~ ^[A-Z_][A-Z0-9_]*$ ]] && [ -z "${!name+x}" ] && export "$name=$value"
done <.env

project="${COMPOSE_PROJECT_NAME:-evcharging}"
volume="${project}_db-data"
say() { printf '[preflight] %s\n' "$*" >&2; }

# Kafka's data belongs to the number of nodes that wrote it: one broker's topics have a
# single replica, a cluster's have three spread over its nodes. Neither runs on the other.
exists() { docker volume inspect "$1" >/dev/null 2>&1; }
nodes=1; [[ "${COMPOSE_FILE:-}" == *kafka-cluster.yml* ]] && nodes=3
if exists "${project}_kafka-data"; then
  made=1; exists "${project}_kafka-2-data" && made=3
  if [ "$made" != "$nodes" ]; then
    cat >&2 <<EOT
[preflight] Kafka's data (the volume '${project}_kafka-data') was written by $made node(s); KAFKA_NODES is now $nodes.
[preflight] Two ways out:
[preflight]   1. keep it: make up KAFKA_NODES=$made;
[preflight]   2. let Kafka start afresh with $nodes node(s): make down, then
[preflight]      docker volume rm ${project}_kafka-data ${project}_kafka-2-data ${project}_kafka-3-data
[preflight]      (CPs, sessions and tickets stay in MariaDB; a supply in progress is not billed).
EOT
    exit 1
  fi
fi

docker volume inspect "$volume" >/dev/null 2>&1 || exit 0

# A running MariaDB is left as it is (the user's stack may be up); a stopped one
# is started for the check, and stopped again if the check fails.
was_running=$(docker compose ps --status running -q mariadb 2>/dev/null || true)
if ! output=$(docker compose up -d --no-recreate --wait --wait-timeout 120 mariadb 2>&1); then
  printf '%s\n' "$output" | tail -5 >&2
  say "MariaDB did not start on the volume '$volume' (above; 'docker compose logs mariadb' says more)."
  exit 1
fi

login() {  # login USER PASSWORD: prints MariaDB's error, if any
  docker compose exec -T -e MYSQL_PWD="$2" mariadb \
    mariadb --protocol=tcp -h 127.0.0.1 -u "$1" -e 'SELECT 1' evcharging_db 2>&1 >/dev/null || true
}

refused=$(login evcharging "$DB_PASSWORD")
[ -z "$refused" ] && exit 0

[ -n "$was_running" ] || docker compose stop mariadb >/dev/null 2>&1 || true
cat >&2 <<EOT
[preflight] The database volume '$volume' was made with other secrets than this .env's.
[preflight] MariaDB answers: ${refused}
[preflight] A volume keeps the DB_PASSWORD and DB_ROOT_PASSWORD it was created with; this .env
[preflight] (made $(date -r .env '+%Y-%m-%d %H:%M')) has new ones — a new checkout, or a deleted .env.
[preflight] Two ways out:
[preflight]   1. keep the data: put back the .env that created the volume (at least its
[preflight]      DB_PASSWORD and DB_ROOT_PASSWORD lines), then 'make up' again;
[preflight]   2. start afresh: 'make clean' deletes the stack's volumes (registered CPs,
[preflight]      sessions, tickets), then 'make up'.
EOT
exit 1
