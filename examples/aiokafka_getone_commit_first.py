"""FAULTY: an asyncio (aiokafka) service that commits each event before handling it.

getone(), commit() at once ("so that a slow event is never handled twice"), then the
handling. A hard kill during the handling leaves the event committed and never handled:
lost. EXAMPLE_WORK_MS simulates the time handling one event takes (default 0).

    EXAMPLE_WORK_MS=80 riverbed run --consumer-cmd "python examples/aiokafka_getone_commit_first.py" \\
                 --experiment experiments/local/kill-consumer-hard.json
"""

import asyncio
import os
import signal

from aiokafka import AIOKafkaConsumer, TopicPartition

WORK_S = float(os.environ.get("EXAMPLE_WORK_MS", "0")) / 1000


async def main():
    stopping = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stopping.set)
    consumer = AIOKafkaConsumer(
        os.environ.get("KAFKA_TOPIC", "events"),
        bootstrap_servers=os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "localhost:9092"),
        group_id=os.environ.get("KAFKA_GROUP", "workers"),
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        while not stopping.is_set():
            msg = await consumer.getone()
            # the bug: the event is claimed done before it is handled
            await consumer.commit({TopicPartition(msg.topic, msg.partition): msg.offset + 1})
            await asyncio.sleep(WORK_S)
    finally:
        await consumer.stop()


asyncio.run(main())
