#!/usr/bin/env bash
# Describe the KRaft controller quorum (`--bootstrap-server HOST:PORT describe --status`).
exec "$(dirname "$0")/kafka-run-class.sh" org.apache.kafka.tools.MetadataQuorumCommand "$@"
