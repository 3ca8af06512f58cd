"""Kafka faults and probes: topics, partitions, consumer groups, in-sync replicas.

Activities: :mod:`riverbed.chaos.kafka.actions` and :mod:`riverbed.chaos.kafka.probes`.
"""
