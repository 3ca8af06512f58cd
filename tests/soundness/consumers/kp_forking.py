"""CAREFUL (at-least-once): a kafka-python worker that forks helper processes after subscribing.

The parent subscribes, then starts two helper processes (multiprocessing, fork start
method; here they only tick, as a metrics or cache-refresh helper would) that live
until SIGTERM. The parent consumes carefully: poll, work, commit. SIGTERM stops the
helpers, finishes the batch, commits and closes.
"""

import logging
import multiprocessing
import signal
import time

from app import GROUP, SESSION_TIMEOUT_MS, TOPIC, finished, kafka_python_settings, work
from kafka import KafkaConsumer
from kafka.errors import CommitFailedError

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
logging.getLogger("kafka").setLevel(logging.WARNING)
log = logging.getLogger("forking")
running = True


def stop(signum, frame):
    global running
    running = False


signal.signal(signal.SIGTERM, stop)


def helper():
    """Ticks until SIGTERM (the handler inherited from the parent ends the loop)."""
    ticks = 0
    while running:
        time.sleep(0.2)
        ticks += 1


consumer = KafkaConsumer(
    TOPIC,
    **kafka_python_settings(),
    group_id=GROUP,
    auto_offset_reset="earliest",
    enable_auto_commit=False,
    session_timeout_ms=SESSION_TIMEOUT_MS,
)
fork = multiprocessing.get_context("fork")
helpers = [fork.Process(target=helper, name=f"helper-{i}") for i in range(2)]
for process in helpers:
    process.start()
try:
    while running:
        batch = consumer.poll(timeout_ms=500, max_records=50)
        if not batch:
            continue
        for records in batch.values():
            for record in records:
                work()
                finished(record.partition, record.offset)
        try:
            consumer.commit()
        except CommitFailedError as exc:
            log.warning("commit refused, the batch will be delivered again: %s", exc)
finally:
    consumer.close()
    for process in helpers:
        process.terminate()  # SIGTERM: its loop ends
        process.join(timeout=10)
