"""An asyncio (aiokafka) service that commits after processing each batch (at-least-once).

getmany() batches, each record's handler awaited in turn, then commit(). aiokafka
rebalances in its own task while the service awaits its handlers: its rebalance listener
waits for the batch in progress (a lock held while it works and commits), as aiokafka's
documentation asks, so that it never works on a partition it no longer owns. SIGTERM
finishes the batch in hand, commits it and stops the consumer. EXAMPLE_WORK_MS simulates the time handling
one event takes (default 0).

    EXAMPLE_WORK_MS=80 riverbed run --consumer-cmd "python examples/aiokafka_getmany.py" \\
                 --experiment experiments/local/kill-consumer-hard.json
"""

import asyncio
import json
import logging
import os
import signal

from aiokafka import AIOKafkaConsumer
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.errors import CommitFailedError

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
log = logging.getLogger("service")

WORK_S = float(os.environ.get("EXAMPLE_WORK_MS", "0")) / 1000


async def handle(event):
    await asyncio.sleep(WORK_S)  # a call to another service, a database write…


class WaitForTheBatch(ConsumerRebalanceListener):
    def __init__(self, lock):
        self.lock = lock

    async def on_partitions_revoked(self, revoked):
        async with self.lock:  # the batch in progress is handled and committed first
            log.info("revoked %s", sorted(tp.partition for tp in revoked))

    async def on_partitions_assigned(self, assigned):
        log.info("assigned %s", sorted(tp.partition for tp in assigned))


async def main():
    stopping = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stopping.set)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "localhost:9092"),
        group_id=os.environ.get("KAFKA_GROUP", "workers"),
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    lock = asyncio.Lock()
    consumer.subscribe([os.environ.get("KAFKA_TOPIC", "events")], listener=WaitForTheBatch(lock))
    await consumer.start()
    try:
        while not stopping.is_set():
            batch = await consumer.getmany(timeout_ms=500, max_records=100)
            if not batch:
                continue
            async with lock:
                handled = 0
                for records in batch.values():
                    for record in records:
                        await handle(json.loads(record.value))
                        handled += 1
                try:
                    await consumer.commit()
                except CommitFailedError as exc:
                    log.warning("commit failed, the batch will be delivered again: %s", exc)
                log.info("handled and committed %d events", handled)
    finally:
        await consumer.stop()


asyncio.run(main())
