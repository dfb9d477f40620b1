#!/usr/bin/env bash
# Run a Kafka class with the broker's jars, as the distribution's script does.
exec java ${KAFKA_HEAP_OPTS:--Xmx256m} ${KAFKA_OPTS:-} \
  -Dlog4j2.configurationFile="${KAFKA_LOG4J_CONFIG:-/opt/kafka/config/log4j2.properties}" \
  -cp '/opt/kafka/libs/*' "$@"
