"""Fixtures for the lake tests: one Spark session in the test process."""

from __future__ import annotations

import uuid

import pytest
from confluent_kafka import Consumer, TopicPartition

from txlake.cdc.reconcile import reconcile
from txlake.generate.load import first_free_day
from txlake.lake import tables as lake


@pytest.fixture
def delta_version(spark):
    """The newest version of the Delta table at a path."""
    def version(path: str) -> int:
        from delta.tables import DeltaTable

        return DeltaTable.forPath(spark, path).history(1).collect()[0]["version"]
    return version


@pytest.fixture
def reconcile_now(stack, spark):
    return lambda: reconcile(spark, stack, limit=5)


@pytest.fixture
def generate(free_day, txlake_cli):
    """`txlake generate customers|transactions`, which must succeed; transactions
    go to the first day the source does not hold yet from `start` on."""
    def customers(count: int, seed: int) -> None:
        done = txlake_cli("generate", "customers", "--count", str(count), "--seed", str(seed))
        assert done.returncode == 0, done.stderr

    def transactions(start, count: int, seed: int, updates: float, deletes: float) -> None:
        done = txlake_cli("generate", "transactions", "--date", free_day(start),
                          "--count", str(count), "--seed", str(seed),
                          "--update-share", str(updates), "--delete-share", str(deletes), "--quiet")
        assert done.returncode == 0, done.stderr

    return customers, transactions


@pytest.fixture
def free_day(pg):
    """A day the generator has not written yet, from `start` on: the suite may
    run on a stack that already holds data (TXLAKE_TEST_STACK=external)."""
    return lambda start: first_free_day(pg, start).isoformat()


@pytest.fixture
def kafka_record(stack, spark):
    """The Kafka record of a transaction's `op` event, found by its place in bronze."""
    def find(transaction_id: str, op: str):
        from txlake.cdc.tables import TRANSACTIONS

        [where] = (spark.read.format("delta").load(lake.changelog(TRANSACTIONS).path(stack))
                   .where(f"key = '{transaction_id}' AND op = '{op}'")
                   .select("topic", "partition", "offset").collect())
        consumer = Consumer({"bootstrap.servers": stack.kafka_bootstrap_servers,
                             "group.id": f"txlake-test-{uuid.uuid4().hex}",
                             "enable.auto.commit": False})
        try:
            consumer.assign([TopicPartition(where.topic, where.partition, where.offset)])
            record = consumer.poll(30)
        finally:
            consumer.close()
        assert record is not None and record.error() is None and record.offset() == where.offset
        return record
    return find
