"""An asyncio (aiokafka) service that iterates with ``async for`` and commits each event
after handling it (at-least-once).

aiokafka rebalances in its own task while the service awaits its handling: its
rebalance listener waits for the event in progress (a lock held while it handles and
commits it), as aiokafka's documentation asks. SIGTERM ends the iteration after the event in hand; the ``async with`` block stops the
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
from aiokafka.abc import ConsumerRebalanceListener

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
log = logging.getLogger("service")

WORK_S = float(os.environ.get("EXAMPLE_WORK_MS", "0")) / 1000


class WaitForTheEvent(ConsumerRebalanceListener):
    def __init__(self, lock):
        self.lock = lock

    async def on_partitions_revoked(self, revoked):
        async with self.lock:  # the event in progress is handled and committed first
            pass

    async def on_partitions_assigned(self, assigned):
        pass


async def main():
    stopping = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stopping.set)
    lock = asyncio.Lock()
    consumer = AIOKafkaConsumer(
        bootstrap_servers=os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "localhost:9092"),
        group_id=os.environ.get("KAFKA_GROUP", "workers"),
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    consumer.subscribe([os.environ.get("KAFKA_TOPIC", "events")], listener=WaitForTheEvent(lock))
    async with consumer:
        async for msg in consumer:
            async with lock:
                event = json.loads(msg.value)
                await asyncio.sleep(WORK_S)  # the event's handling
                await consumer.commit({TopicPartition(msg.topic, msg.partition): msg.offset + 1})
            log.debug("handled %s/%s #%s", event["producer"], event["key"], event["seq"])
            if stopping.is_set():
                break


asyncio.run(main())
