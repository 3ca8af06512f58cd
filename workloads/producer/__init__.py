"""The instrumented producer (``python -m workloads.producer loop|http``).

``loop`` is the tutorial's producer loop (:mod:`workloads.producer.loop`);
``http`` is a small event-ingesting service (:mod:`workloads.producer.http_service`).
Both record every send's outcome as contract ``send`` evidence.
"""
