"""AT-MOST-ONCE: an aiokafka (asyncio) worker that commits each batch right after fetching it.

getmany(max_records=50), await commit() at once ("so that a restart never handles them
twice"), then await the work on each record. A SIGKILL in the middle of the work leaves
the rest of the batch committed and never done: lost.
"""

import asyncio
import signal

from aiokafka import AIOKafkaConsumer
from app import BOOTSTRAP_SERVERS, GROUP, SESSION_TIMEOUT_MS, TOPIC, WORK_S, finished


async def main():
    stopping = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stopping.set)
    consumer = AIOKafkaConsumer(
        TOPIC,
        bootstrap_servers=BOOTSTRAP_SERVERS,
        group_id=GROUP,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        session_timeout_ms=SESSION_TIMEOUT_MS,
    )
    await consumer.start()
    try:
        while not stopping.is_set():
            batch = await consumer.getmany(timeout_ms=500, max_records=50)
            if not batch:
                continue
            await consumer.commit()  # the bug: the batch is claimed done before any of it is
            for records in batch.values():
                for record in records:
                    await asyncio.sleep(WORK_S)
                    finished(record.partition, record.offset)
    finally:
        await consumer.stop()


asyncio.run(main())
