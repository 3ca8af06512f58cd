"""A real Apache Kafka cluster on this machine, resolved from Maven Central."""

from riverbed.kafka.cluster import BrokerStatus, LocalKafkaCluster

__all__ = ["BrokerStatus", "LocalKafkaCluster"]
