"""The instrumented consumer-group member (``python -m workloads.consumer``).

See :mod:`workloads.consumer.group_consumer` for what it records and when, and
``python -m workloads.consumer --help`` for its flags and environment variables.
"""
