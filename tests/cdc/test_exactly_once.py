"""A micro-batch written again after a crash is skipped by tables that have it."""

from __future__ import annotations

import uuid

import pytest

from txlake.cdc.apply import BatchApplier, Held, Mark, last_committed_batch
from txlake.cdc.tables import CAPTURED
from txlake.lake import tables as lake

pytestmark = pytest.mark.stack


@pytest.fixture
def scratch_table(stack, spark):
    table = lake.LakeTable(f"test_append_{uuid.uuid4().hex[:8]}", (("n", "bigint"),), internal=True)
    lake.ensure(spark, stack, table)
    return table


def _applier(stack, spark, run_id: str) -> BatchApplier:
    return BatchApplier(spark, stack, run_id, {s.name: s for s in CAPTURED})


def test_an_append_replayed_with_its_batch_id_writes_nothing(stack, spark, scratch_table):
    applier = _applier(stack, spark, "run-a")
    rows = spark.range(3).withColumnRenamed("id", "n")
    applier._append(rows, scratch_table, batch_id=7)
    applier._append(rows, scratch_table, batch_id=7)  # the same batch again in this run
    restarted = _applier(stack, spark, "run-a")  # after a crash: knows only the table's history
    restarted._append(rows, scratch_table, batch_id=7)
    restarted._append(rows, scratch_table, batch_id=6)  # an older batch: already behind us
    path = scratch_table.path(stack)
    assert spark.read.format("delta").load(path).count() == 3
    assert last_committed_batch(spark, path, applier._app_id(scratch_table.name)) == 7

    applier._append(rows, scratch_table, batch_id=8)
    assert spark.read.format("delta").load(path).count() == 6


def test_another_checkpoint_run_starts_its_own_batch_count(stack, spark, scratch_table):
    rows = spark.range(2).withColumnRenamed("id", "n")
    _applier(stack, spark, "run-a")._append(rows, scratch_table, batch_id=5)
    other = _applier(stack, spark, "run-b")
    path = scratch_table.path(stack)
    assert last_committed_batch(spark, path, other._app_id(scratch_table.name)) is None
    other._append(rows, scratch_table, batch_id=0)
    assert spark.read.format("delta").load(path).count() == 4


def test_the_mark_is_found_behind_many_later_commits(stack, spark, scratch_table):
    applier = _applier(stack, spark, "run-a")
    rows = spark.range(1).withColumnRenamed("id", "n")
    applier._append(rows, scratch_table, batch_id=1)
    path = scratch_table.path(stack)
    for _ in range(22):  # more than the recent window: other writers' commits
        rows.write.format("delta").mode("append").save(path)
    assert last_committed_batch(spark, path, applier._app_id(scratch_table.name)) == 1


def test_a_bronze_mark_carries_the_highest_lsns_it_holds_and_old_marks_still_read():
    assert Mark(12, Held(345, 678)).text("app") == "app:batch=12:deletes-upto=345:lsn-upto=678"
    assert Mark.parse("app:batch=12:deletes-upto=345:lsn-upto=678", "app") == Mark(12, Held(345, 678))
    # Written by older txlakes: the batch still counts, what bronze holds is asked anew.
    assert Mark.parse("app:batch=12:deletes-upto=345", "app") == Mark(12, None)
    assert Mark.parse("app:batch=12", "app") == Mark(12, None)
    assert Mark.parse("other:batch=12", "app") is None
