"""Fixtures for the lake tests: one Spark session in the test process."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

import pytest
from confluent_kafka import Consumer, TopicPartition

from txlake.cdc import ingest
from txlake.cdc.reconcile import reconcile
from txlake.generate.load import first_free_day
from txlake.lake import tables as lake


@pytest.fixture
def ingest_now(stack, spark):
    """Run `txlake ingest` in this process (the Spark session stays warm),
    with any settings given overridden."""
    return lambda **settings: ingest.run(stack.model_copy(update=settings))


@pytest.fixture
def reconcile_now(stack, spark):
    return lambda: reconcile(spark, stack, limit=5)


def run_txlake(*args: str, timeout: float = 900, **env: str) -> subprocess.CompletedProcess:
    """`txlake ARGS` in a process of its own, as a user runs it."""
    return subprocess.run([sys.executable, "-m", "txlake", *args], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **env})


@pytest.fixture
def txlake_cli():
    return run_txlake


@pytest.fixture
def generate(free_day):
    """`txlake generate customers|transactions`, which must succeed; transactions
    go to the first day the source does not hold yet from `start` on."""
    def customers(count: int, seed: int) -> None:
        done = run_txlake("generate", "customers", "--count", str(count), "--seed", str(seed))
        assert done.returncode == 0, done.stderr

    def transactions(start, count: int, seed: int, updates: float, deletes: float) -> None:
        done = run_txlake("generate", "transactions", "--date", free_day(start),
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
