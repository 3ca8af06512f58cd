"""An asyncio (aiokafka) service that iterates with ``async for`` and commits each event
after handling it (at-least-once).

SIGTERM ends the iteration after the event in hand; the ``async with`` block stops the
consumer. EXAMPLE_WORK_MS simulates the time handling one event takes (default 0).

    EXAMPLE_WORK_MS=80 riverbed run --consumer-cmd "python examples/aiokafka_iterate.py" \\
                 --experiment experiments/local/kill-consumer-hard.json
"""

import asyncio
import json
import logging
import os
import signal

from aiokafka import AIOKafkaConsumer, TopicPartition

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
log = logging.getLogger("service")

WORK_S = float(os.environ.get("EXAMPLE_WORK_MS", "0")) / 1000


async def main():
    stopping = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stopping.set)
    async with AIOKafkaConsumer(
        os.environ.get("KAFKA_TOPIC", "events"),
        bootstrap_servers=os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "localhost:9092"),
        group_id=os.environ.get("KAFKA_GROUP", "workers"),
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    ) as consumer:
        async for msg in consumer:
            event = json.loads(msg.value)
            await asyncio.sleep(WORK_S)  # the event's handling
            await consumer.commit({TopicPartition(msg.topic, msg.partition): msg.offset + 1})
            log.debug("handled %s/%s #%s", event["producer"], event["key"], event["seq"])
            if stopping.is_set():
                break


asyncio.run(main())
