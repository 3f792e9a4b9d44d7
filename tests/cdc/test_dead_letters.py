"""A malformed message on a CDC topic is parked with its reason; ingestion goes on."""

from __future__ import annotations

import uuid

import pytest
from confluent_kafka import Producer

from txlake.lake import tables as lake

pytestmark = pytest.mark.stack


def test_malformed_messages_land_in_dead_letters_and_good_ones_still_apply(stack, spark, pg,
                                                                            ingest_now,
                                                                            reconcile_now):
    marker = uuid.uuid4().hex
    producer = Producer({"bootstrap.servers": stack.kafka_bootstrap_servers})
    topic = stack.cdc_topic("transactions")
    bad = {
        f"not json {marker}".encode(): "not a Debezium change event",
        f'{{"op": "x", "source": {{"lsn": 1}}, "after": {{"transaction_id": "{marker}"}}}}'
        .encode(): "unknown op x",
        f'{{"op": "c", "source": {{"lsn": 1}}, "after": {{"transaction_id": "{marker}",'
        f' "amount": "twelve"}}}}'.encode(): "cannot convert amount",
    }
    for value in bad:
        producer.produce(topic, key=marker.encode(), value=value)
    producer.flush(10)
    good_id = f"t-after-garbage-{marker[:8]}"
    pg.execute("INSERT INTO customers (user_id) VALUES (%s) ON CONFLICT DO NOTHING", (marker,))
    pg.execute("INSERT INTO transactions (transaction_id, user_id, amount) VALUES (%s, %s, 9.99)",
               (good_id, marker))

    ingest_now()

    dead = (spark.read.format("delta").load(lake.DEAD_LETTERS.path(stack))
            .where(f"cast(key as string) = '{marker}'").collect())
    errors = {bytes(row.value): row.error for row in dead}
    assert set(errors) == set(bad)
    for value, reason in bad.items():
        assert reason in errors[value]
    assert all(row.topic == topic and row.offset >= 0 for row in dead)
    report = reconcile_now()
    assert report["clean"], report
    assert report["dead_letters"] >= len(bad)
