"""riverbed: a load-and-chaos test harness for Kafka-based event-driven services."""

__version__ = "0.1.0"
