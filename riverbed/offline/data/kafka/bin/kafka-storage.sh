#!/usr/bin/env bash
# Kafka's storage tool: format a KRaft log directory (`format -t CLUSTER_ID -c server.properties`).
exec "$(dirname "$0")/kafka-run-class.sh" kafka.tools.StorageTool "$@"
