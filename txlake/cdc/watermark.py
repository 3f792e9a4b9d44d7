"""Wait until Kafka holds every change committed in the source before now.

A row written to the captured `txlake_watermark` table travels the same path
as every other change. Once its event is on Kafka *and* Kafka Connect has
committed a source offset at or past its LSN, every change committed before it
has been acknowledged by Kafka (Connect commits offsets only for records
whose predecessors were all acknowledged). No sleeps, no guessing.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import requests
from confluent_kafka import Consumer, TopicPartition

from txlake.cdc.tables import CAPTURED
from txlake.errors import TxlakeError
from txlake.settings import Settings
from txlake.source.schema import connect

TABLE = "txlake_watermark"


@dataclass(frozen=True)
class Watermark:
    id: str
    lsn: int
    seconds: float


def _consumer_at_end(settings: Settings, topic: str) -> Consumer:
    consumer = Consumer({"bootstrap.servers": settings.kafka_bootstrap_servers,
                         "group.id": f"txlake-watermark-{uuid.uuid4()}",
                         "enable.auto.commit": False, "fetch.wait.max.ms": 20})
    metadata = consumer.list_topics(topic, timeout=10).topics.get(topic)
    if metadata is None or metadata.error is not None:
        consumer.close()
        raise TxlakeError(f"kafka: topic {topic} is missing; run `txlake stack up`")
    consumer.assign([
        TopicPartition(topic, p, consumer.get_watermark_offsets(TopicPartition(topic, p),
                                                                timeout=10)[1])
        for p in metadata.partitions
    ])
    return consumer


class Deadline:
    """Gives up only when the pipeline stops moving, not after a fixed time: a
    backlog of millions of changes takes as long as it takes, a stopped
    connector is noticed `stall` seconds after it stopped.

    `progress` returns a number that grows while changes flow (the end offsets
    of the CDC topics); it is asked only when a stall period runs out."""

    def __init__(self, stall: float, progress: Callable[[], int],
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.stall, self.progress, self.clock = stall, progress, clock
        self.seen = progress()
        self.until = clock() + stall

    def expired(self) -> bool:
        if self.clock() < self.until:
            return False
        now = self.progress()
        if now > self.seen:
            self.seen, self.until = now, self.clock() + self.stall
            return False
        return True


def _topic_ends(consumer: Consumer, settings: Settings) -> Callable[[], int]:
    """The summed end offsets of the CDC topics, asked through `consumer`:
    grows with every change Debezium writes."""
    topics = [settings.cdc_topic(t.name) for t in CAPTURED] + [settings.cdc_topic(TABLE)]

    def total() -> int:
        metadata = consumer.list_topics(timeout=10).topics
        return sum(consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
                   for topic in topics if topic in metadata
                   for p in metadata[topic].partitions)

    return total


def _event_lsn(consumer: Consumer, watermark_id: str, deadline: Deadline) -> int | None:
    while not deadline.expired():
        message = consumer.poll(0.2)
        if message is None or message.error() or not message.value():
            continue
        try:
            event = json.loads(message.value())
        except ValueError:
            continue
        if (event.get("after") or {}).get("id") == watermark_id:
            return int(event["source"]["lsn"])
    return None


def _committed_lsn(settings: Settings) -> int:
    response = requests.get(
        f"{settings.kafka_connect_url}/connectors/{settings.cdc_connector_name}/offsets", timeout=5)
    response.raise_for_status()
    offsets = [o["offset"] for o in response.json().get("offsets", [])]
    return max((max(o.get("lsn_proc") or 0, o.get("lsn") or 0) for o in offsets), default=0)


def slot_problem(slot: str, wal_status: str | None) -> str | None:
    """Why ingest must not run with this slot, or None. `lost`: PostgreSQL
    removed WAL the slot still needed (`max_slot_wal_keep_size`), so changes in
    it never reached Kafka and no ingest can make the lake equal the source."""
    if wal_status != "lost":
        return None
    return (f"postgres: replication slot {slot} is lost (PostgreSQL removed WAL it still "
            "needed, see max_slot_wal_keep_size): changes in that WAL never reached Kafka; "
            "rebuild the CDC pipeline and the lake from a new snapshot (README, "
            "\"A lost replication slot\")")


def check_slot(settings: Settings) -> None:
    """Refuse to go on when the connector's replication slot is lost."""
    with connect(settings) as conn:
        row = conn.execute("SELECT wal_status FROM pg_replication_slots WHERE slot_name = %s",
                           (settings.cdc_slot_name,)).fetchone()
    problem = slot_problem(settings.cdc_slot_name, row[0] if row else None)
    if problem:
        raise TxlakeError(problem)


def wait(settings: Settings, timeout: float = 300.0) -> Watermark:
    """Write a watermark row and wait until its change is safely in Kafka.
    `timeout`: how long Debezium may write nothing before this gives up."""
    started = time.monotonic()
    watermark_id = f"wm-{uuid.uuid4()}"
    consumer = _consumer_at_end(settings, settings.cdc_topic(TABLE))
    try:
        deadline = Deadline(timeout, _topic_ends(consumer, settings))
        check_slot(settings)
        with connect(settings) as conn:
            conn.execute("INSERT INTO txlake_watermark (id) VALUES (%s)", (watermark_id,))
            # Earlier watermarks have done their job; keep the table tiny.
            conn.execute("DELETE FROM txlake_watermark WHERE created_at < now() - interval '1 day'")
        lsn = _event_lsn(consumer, watermark_id, deadline)
        if lsn is None:
            raise TxlakeError(
                f"connect: no change reached Kafka for {timeout:.0f}s and the watermark is "
                "not there yet; is the Debezium connector running? (txlake stack status)")
    finally:
        consumer.close()
    committed_by = time.monotonic() + timeout
    while _committed_lsn(settings) < lsn:
        if time.monotonic() > committed_by:
            raise TxlakeError(f"connect: source offsets did not reach LSN {lsn} within "
                              f"{timeout:.0f}s; see txlake stack logs connect")
        time.sleep(0.1)
    return Watermark(watermark_id, lsn, time.monotonic() - started)
