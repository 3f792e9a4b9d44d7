"""At-least-once delivery: an old change event delivered again, after newer
changes of its row were applied, changes nothing in silver."""

from __future__ import annotations

import uuid

import pytest
from confluent_kafka import Producer

from txlake.cdc.tables import TRANSACTIONS
from txlake.lake import tables as lake

pytestmark = pytest.mark.stack


def _deliver_again(stack, record) -> None:
    """Produce a Kafka record once more, byte for byte, as a connector
    restarting from an older offset would."""
    producer = Producer({"bootstrap.servers": stack.kafka_bootstrap_servers})
    producer.produce(record.topic(), key=record.key(), value=record.value())
    producer.flush(10)


def _silver_amount(stack, spark, transaction_id: str):
    rows = (spark.read.format("delta").load(lake.silver(TRANSACTIONS).path(stack))
            .where(f"transaction_id = '{transaction_id}'").select("amount").collect())
    return [str(row.amount) for row in rows]


def test_an_insert_delivered_again_after_the_delete_does_not_bring_the_row_back(
        stack, spark, pg, ingest_now, reconcile_now, kafka_record):
    marker = uuid.uuid4().hex[:8]
    deleted, updated = f"t-again-deleted-{marker}", f"t-again-updated-{marker}"
    pg.execute("INSERT INTO customers (user_id) VALUES (%s) ON CONFLICT DO NOTHING", (marker,))
    for transaction_id in (deleted, updated):
        pg.execute("INSERT INTO transactions (transaction_id, user_id, amount) VALUES (%s, %s, 1.00)",
                   (transaction_id, marker))
    ingest_now()
    pg.execute("DELETE FROM transactions WHERE transaction_id = %s", (deleted,))
    pg.execute("UPDATE transactions SET amount = 2.00 WHERE transaction_id = %s", (updated,))
    ingest_now()
    assert _silver_amount(stack, spark, deleted) == []
    assert _silver_amount(stack, spark, updated) == ["2.00"]

    # Inserts only, so this batch would be appended to silver if they were new.
    _deliver_again(stack, kafka_record(deleted, "c"))
    _deliver_again(stack, kafka_record(updated, "c"))
    ingest_now()

    assert _silver_amount(stack, spark, deleted) == []
    assert _silver_amount(stack, spark, updated) == ["2.00"]
    report = reconcile_now()
    assert report["clean"], report
