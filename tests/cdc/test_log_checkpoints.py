"""A stream writes Delta checkpoints of silver itself, from the state a MERGE
just read, so the next MERGE rebuilds the state from a few commits only."""

from __future__ import annotations

import uuid

import pytest

from txlake.cdc import apply
from txlake.cdc.tables import TRANSACTIONS
from txlake.lake import tables as lake

pytestmark = pytest.mark.stack


@pytest.fixture
def table_path(stack, spark):
    # Checkpointed by Delta every 100 commits, as silver is: any checkpoint
    # below comes from the stream's own.
    table = lake.LakeTable(f"test_log_checkpoints_{uuid.uuid4().hex[:8]}", (("n", "bigint"),),
                           internal=True, properties=lake.silver(TRANSACTIONS).properties)
    lake.ensure(spark, stack, table)
    return table.path(stack)


def _commit(spark, path: str, times: int) -> None:
    for n in range(times):
        spark.range(n, n + 1).withColumnRenamed("id", "n").write.format("delta") \
            .mode("append").save(path)


def _snapshot(spark, path: str):
    from delta.tables import DeltaTable

    none = spark.sparkContext._jvm.scala.Option.empty()
    return DeltaTable.forPath(spark, path)._jdt.deltaLog().update(False, none, none)


def _newest_checkpoint(spark, path: str) -> int:
    return _snapshot(spark, path).logSegment().checkpointProvider().version()


def test_a_version_enough_commits_past_the_newest_checkpoint_is_checkpointed(spark, table_path):
    _commit(spark, table_path, apply.CHECKPOINT_EVERY_COMMITS + 2)
    read = _snapshot(spark, table_path)
    _commit(spark, table_path, 1)  # the MERGE's own commit, after the version it read
    assert _newest_checkpoint(spark, table_path) == -1  # none yet
    checkpoints = apply._Checkpoints(spark)

    checkpoints.offer(read)
    checkpoints.wait()

    assert _newest_checkpoint(spark, table_path) == read.version()
    assert spark.read.format("delta").load(table_path).count() == (
        apply.CHECKPOINT_EVERY_COMMITS + 3)


def test_a_version_a_few_commits_past_the_newest_checkpoint_is_left_alone(spark, table_path):
    _commit(spark, table_path, apply.CHECKPOINT_EVERY_COMMITS + 2)
    checkpoints = apply._Checkpoints(spark)
    checkpoints.offer(_snapshot(spark, table_path))
    checkpoints.wait()
    checkpointed = _newest_checkpoint(spark, table_path)
    _commit(spark, table_path, apply.CHECKPOINT_EVERY_COMMITS - 2)

    checkpoints.offer(_snapshot(spark, table_path))
    checkpoints.wait()

    assert _newest_checkpoint(spark, table_path) == checkpointed
