"""CAREFUL (at-least-once): an aiokafka (asyncio) worker that commits a batch after working on it.

getmany(max_records=50), await the work of each record, then await commit(). aiokafka
rebalances in its own task while the application awaits its work, so the worker does
what aiokafka's documentation asks of a consumer that must not work on partitions it no
longer owns: its rebalance listener waits for the batch in progress (a lock held while it
works and commits) before the partitions go. SIGTERM finishes the batch in hand, commits
it and stops the consumer. A commit that fails is only logged: the next owner gets those
records again.
"""

import asyncio
import logging
import signal

from aiokafka import AIOKafkaConsumer
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.errors import CommitFailedError
from app import BOOTSTRAP_SERVERS, GROUP, SESSION_TIMEOUT_MS, TOPIC, WORK_S, finished

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
log = logging.getLogger("careful")


class WaitForTheBatch(ConsumerRebalanceListener):
    def __init__(self, lock):
        self.lock = lock

    async def on_partitions_revoked(self, revoked):
        async with self.lock:  # the batch in progress is finished and committed first
            pass

    async def on_partitions_assigned(self, assigned):
        pass


async def main():
    stopping = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stopping.set)
    lock = asyncio.Lock()
    consumer = AIOKafkaConsumer(
        bootstrap_servers=BOOTSTRAP_SERVERS,
        group_id=GROUP,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        session_timeout_ms=SESSION_TIMEOUT_MS,
    )
    consumer.subscribe([TOPIC], listener=WaitForTheBatch(lock))
    await consumer.start()
    try:
        while not stopping.is_set():
            batch = await consumer.getmany(timeout_ms=500, max_records=50)
            if not batch:
                continue
            async with lock:
                for records in batch.values():
                    for record in records:
                        await asyncio.sleep(WORK_S)
                        finished(record.partition, record.offset)
                try:
                    await consumer.commit()
                except CommitFailedError as exc:
                    log.warning("commit failed, the batch will be delivered again: %s", exc)
    finally:
        await consumer.stop()


asyncio.run(main())
