"""Every committed change in the source reaches Kafka as a Debezium event."""

from __future__ import annotations

import json
import time
import uuid

import pytest
from confluent_kafka import Consumer, TopicPartition

pytestmark = pytest.mark.stack


def _consumer_at_end(settings, topic: str) -> Consumer:
    consumer = Consumer({"bootstrap.servers": settings.kafka_bootstrap_servers,
                         "group.id": f"test-{uuid.uuid4()}", "enable.auto.commit": False})
    partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
    assigned = []
    for p in partitions:
        _, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
        assigned.append(TopicPartition(topic, p, high))
    consumer.assign(assigned)
    return consumer


def _events_for(consumer: Consumer, key_field: str, key: str, count: int, timeout: float = 60):
    """The first `count` change events (tombstones skipped) whose key is `key`."""
    events, deadline = [], time.monotonic() + timeout
    while len(events) < count and time.monotonic() < deadline:
        message = consumer.poll(1.0)
        if message is None or message.error() or message.value() is None:
            continue
        if json.loads(message.key())[key_field] == key:
            events.append(json.loads(message.value()))
    consumer.close()
    return events


def test_insert_update_delete_of_a_customer_arrive_as_three_events(stack, pg):
    topic = stack.cdc_topic("customers")
    consumer = _consumer_at_end(stack, topic)
    user_id = f"u-test-{uuid.uuid4().hex[:8]}"
    pg.execute("INSERT INTO customers (user_id, name, age, location) VALUES (%s, 'Ada', 36, 'Oslo')",
               (user_id,))
    pg.execute("UPDATE customers SET age = 37 WHERE user_id = %s", (user_id,))
    pg.execute("DELETE FROM customers WHERE user_id = %s", (user_id,))

    events = _events_for(consumer, "user_id", user_id, 3)

    assert [e["op"] for e in events] == ["c", "u", "d"]
    created, updated, deleted = events
    assert created["before"] is None and created["after"]["age"] == 36
    assert updated["before"]["age"] == 36 and updated["after"]["age"] == 37
    assert deleted["before"]["age"] == 37 and deleted["after"] is None
    assert all(e["source"]["table"] == "customers" and e["source"]["lsn"] for e in events)
    lsns = [e["source"]["lsn"] for e in events]
    assert lsns == sorted(lsns)


def test_a_transaction_keeps_its_exact_amount_and_utc_time(stack, pg):
    topic = stack.cdc_topic("transactions")
    consumer = _consumer_at_end(stack, topic)
    user_id = f"u-test-{uuid.uuid4().hex[:8]}"
    tx_id = f"t-test-{uuid.uuid4().hex[:8]}"
    pg.execute("INSERT INTO customers (user_id, name) VALUES (%s, 'Bo')", (user_id,))
    pg.execute(
        "INSERT INTO transactions (transaction_id, user_id, amount, vendor, source, transaction_time)"
        " VALUES (%s, %s, 1234567890.12, 'Acme', 'online', '2026-11-20 23:59:59.5+01')",
        (tx_id, user_id),
    )
    pg.execute("UPDATE transactions SET amount = 0.10 WHERE transaction_id = %s", (tx_id,))
    pg.execute("DELETE FROM transactions WHERE transaction_id = %s", (tx_id,))

    events = _events_for(consumer, "transaction_id", tx_id, 3)

    assert [e["op"] for e in events] == ["c", "u", "d"]
    created, updated, deleted = events
    # Money travels as a decimal string: no binary floating point on the way.
    assert created["after"]["amount"] == "1234567890.12"
    assert created["after"]["transaction_time"] == "2026-11-20T22:59:59.500000Z"
    assert updated["before"]["amount"] == "1234567890.12" and updated["after"]["amount"] == "0.10"
    assert deleted["before"]["transaction_id"] == tx_id and deleted["after"] is None
