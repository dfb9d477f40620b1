#!/usr/bin/env bash
# Start a KRaft broker configured the way the official apache/kafka image is:
# every KAFKA_FOO_BAR variable becomes the property foo.bar ("__" keeps an
# underscore, "___" makes a dash), and CLUSTER_ID formats empty storage.
set -euo pipefail

conf=/opt/kafka/config/server.properties
: >"$conf"
while IFS='=' read -r name value; do
  case "$name" in
    KAFKA_HEAP_OPTS|KAFKA_OPTS|KAFKA_JVM_PERFORMANCE_OPTS|KAFKA_LOG4J_OPTS|KAFKA_LOG4J_CONFIG|KAFKA_GC_LOG_OPTS|KAFKA_JMX_OPTS|KAFKA_TOOLS_HEAP_OPTS) continue ;;
    KAFKA_*) ;;
    *) continue ;;
  esac
  key="${name#KAFKA_}"
  key="${key,,}"
  key="${key//___/-}"
  key="${key//__/%}"
  key="${key//_/.}"
  key="${key//%/_}"
  printf '%s=%s\n' "$key" "$value" >>"$conf"
done < <(env)

grep -q '^log.dirs=' "$conf" || echo "log.dirs=/var/lib/kafka/data" >>"$conf"
"$(dirname "$0")/kafka-storage.sh" format --ignore-formatted \
  -t "${CLUSTER_ID:-5L6g3nShT-eMCtK--X86sw}" -c "$conf"
exec "$(dirname "$0")/kafka-server-start.sh" "$conf"
