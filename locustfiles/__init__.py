"""riverbed's Locust users and load shapes (see docs/load.md).

Locustfiles: ``kafka_producer.py`` (produce straight to Kafka) and
``http_producer.py`` (through the producer service). ``python -m locustfiles``
lists their options.
"""
