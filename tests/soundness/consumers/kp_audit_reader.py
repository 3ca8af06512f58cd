"""AT-MOST-ONCE, WITH AN AUDIT READER: kafka-python, two consumers in one process.

The main consumer commits each batch right after polling it, then works on it (as
kp_commit_first.py: a SIGKILL mid-batch loses the rest of the batch). Beside it, a
thread runs a second KafkaConsumer in a group of its own (``<group>-audit``) that
reads the same topic quickly and only counts what it sees: its reads are an audit,
not the service's processing. The main consumer is made first, then the audit thread
starts.
"""

import logging
import signal
import threading

from app import GROUP, SESSION_TIMEOUT_MS, TOPIC, finished, kafka_python_settings, work
from kafka import KafkaConsumer

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
logging.getLogger("kafka").setLevel(logging.WARNING)
log = logging.getLogger("audit")
stopping = threading.Event()


def stop(signum, frame):
    stopping.set()


signal.signal(signal.SIGTERM, stop)


def audit():
    reader = KafkaConsumer(
        TOPIC,
        **kafka_python_settings(),
        group_id=f"{GROUP}-audit",
        auto_offset_reset="earliest",
        session_timeout_ms=SESSION_TIMEOUT_MS,
    )
    seen = 0
    try:
        while not stopping.is_set():
            seen += sum(len(r) for r in reader.poll(timeout_ms=200).values())
    finally:
        reader.close()
        log.info("audit saw %d records", seen)


consumer = KafkaConsumer(
    TOPIC,
    **kafka_python_settings(),
    group_id=GROUP,
    auto_offset_reset="earliest",
    enable_auto_commit=False,
    session_timeout_ms=SESSION_TIMEOUT_MS,
)
auditor = threading.Thread(target=audit, name="audit")
auditor.start()
try:
    while not stopping.is_set():
        batch = consumer.poll(timeout_ms=500, max_records=50)
        if not batch:
            continue
        consumer.commit()  # the bug: the batch is claimed done before any of it is
        for records in batch.values():
            for record in records:
                work()
                finished(record.partition, record.offset)
finally:
    consumer.close()
    stopping.set()
    auditor.join()
