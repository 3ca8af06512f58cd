"""CAREFUL (at-least-once): kafka-python, work in a thread, commit when the worker is done.

Each batch's partitions are paused and the batch goes to a worker thread; meanwhile
the main loop keeps calling poll() (which returns nothing for paused partitions) so
that the group does not think it is stuck. When the worker is done, the batch's
offsets are committed and the partitions resumed. SIGTERM lets the worker finish,
commits and closes.
"""

import logging
import signal
import threading

from app import GROUP, SESSION_TIMEOUT_MS, TOPIC, finished, kafka_python_settings, work
from kafka import ConsumerRebalanceListener, KafkaConsumer, OffsetAndMetadata
from kafka.errors import CommitFailedError

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
logging.getLogger("kafka").setLevel(logging.WARNING)
log = logging.getLogger("pause-heartbeat")
running = True
worker = None


def stop(signum, frame):
    global running
    running = False


signal.signal(signal.SIGTERM, stop)


def handle(batch):
    for records in batch.values():
        for record in records:
            work()
            finished(record.partition, record.offset)


class PauseWhileBusy(ConsumerRebalanceListener):
    """Partitions assigned while the worker is busy start paused too."""

    def on_partitions_revoked(self, revoked):
        pass

    def on_partitions_assigned(self, assigned):
        if worker is not None and worker.is_alive():
            consumer.pause(*assigned)


consumer = KafkaConsumer(
    **kafka_python_settings(),
    group_id=GROUP,
    auto_offset_reset="earliest",
    enable_auto_commit=False,
    session_timeout_ms=SESSION_TIMEOUT_MS,
)
consumer.subscribe([TOPIC], listener=PauseWhileBusy())
try:
    while running:
        batch = consumer.poll(timeout_ms=500, max_records=50)
        if not batch:
            continue
        consumer.pause(*consumer.assignment())
        worker = threading.Thread(target=handle, args=(batch,))
        worker.start()
        while worker.is_alive():
            # The heartbeat: paused partitions return nothing; should anything come
            # back anyway, put it back for later.
            for tp, records in consumer.poll(timeout_ms=100).items():
                consumer.seek(tp, records[0].offset)
        done = {
            tp: OffsetAndMetadata(records[-1].offset + 1, "", -1) for tp, records in batch.items()
        }
        try:
            consumer.commit(done)
        except CommitFailedError as exc:
            log.warning("commit refused, the batch will be delivered again: %s", exc)
        consumer.resume(*consumer.paused())
finally:
    consumer.close()
