"""Rows new to silver are appended to it instead of merged: the same rows, at
a fraction of the fixed cost of a MERGE. What silver may hold is merged, with
a batch's new rows riding along (one commit instead of two); the MERGE
rewrites the small files it changes, and marks the changed rows of larger ones
in deletion vectors."""

from __future__ import annotations

import json
import re
import uuid

import pytest
from confluent_kafka import Producer
from pyspark.sql import functions as F

from txlake.cdc import apply, ingest
from txlake.cdc.apply import BatchApplier, Held
from txlake.cdc.tables import CAPTURED, TRANSACTIONS
from txlake.lake import tables as lake

pytestmark = pytest.mark.stack


def _silver_operations(stack, spark, count: int) -> list[str]:
    """The operations of silver's newest `count` commits, oldest first."""
    from delta.tables import DeltaTable

    table = DeltaTable.forPath(spark, lake.silver(TRANSACTIONS).path(stack))
    return [row.operation for row in reversed(table.history(count).collect())]


def _last_silver_operation(stack, spark) -> str:
    return _silver_operations(stack, spark, 1)[0]


def _silver_rows(stack, spark, transaction_id: str) -> list:
    return (spark.read.format("delta").load(lake.silver(TRANSACTIONS).path(stack))
            .where(f"transaction_id = '{transaction_id}'").collect())


def _amounts(stack, spark, transaction_id: str) -> list[str]:
    """Silver's amounts of a transaction: one, or none once deleted."""
    return [str(row.amount) for row in _silver_rows(stack, spark, transaction_id)]


def _ids(*names: str) -> list[str]:
    marker = uuid.uuid4().hex[:8]
    return [f"t-new-rows-{marker}-{name}" for name in names]


@pytest.fixture
def user(pg, ingest_now):
    """A customer of the test's own, applied before its transactions: its
    batch then holds nothing else the test did not make."""
    user_id = f"u-new-rows-{uuid.uuid4().hex[:8]}"
    pg.execute("INSERT INTO customers (user_id) VALUES (%s)", (user_id,))
    ingest_now()
    return user_id


def _insert(pg, user_id: str, *transaction_ids: str) -> None:
    for transaction_id in transaction_ids:
        pg.execute("INSERT INTO transactions (transaction_id, user_id, amount) VALUES (%s, %s, 5.25)",
                   (transaction_id, user_id))


def test_new_inserts_are_appended_once_each(stack, spark, pg, user, ingest_now, reconcile_now):
    ids = _ids("a", "b", "c")
    _insert(pg, user, *ids)

    ingest_now()

    assert _last_silver_operation(stack, spark) == "WRITE"
    for transaction_id in ids:
        [row] = _silver_rows(stack, spark, transaction_id)
        assert str(row.amount) == "5.25" and row._lsn > 0 and row._ingested_at is not None
    report = reconcile_now()
    assert report["clean"], report


def test_a_batch_merges_its_new_rows_with_the_changes_of_older_ones_in_one_commit(
        stack, spark, pg, user, ingest_now, reconcile_now, delta_version):
    new, changed, reinserted = _ids("new", "changed", "reinserted")
    _insert(pg, user, changed, reinserted)
    ingest_now()
    before = delta_version(lake.silver(TRANSACTIONS).path(stack))
    _insert(pg, user, new)
    pg.execute("UPDATE transactions SET amount = 6.50 WHERE transaction_id = %s", (changed,))
    # Its first change in the batch is the delete: silver holds the row.
    pg.execute("DELETE FROM transactions WHERE transaction_id = %s", (reinserted,))
    pg.execute("INSERT INTO transactions (transaction_id, user_id, amount) VALUES (%s, %s, 8.00)",
               (reinserted, user))

    ingest_now()

    assert delta_version(lake.silver(TRANSACTIONS).path(stack)) == before + 1
    metrics = _last_merge_metrics(stack, spark)
    assert (metrics["numTargetRowsInserted"], metrics["numTargetRowsUpdated"]) == ("1", "2")
    assert (_amounts(stack, spark, changed), _amounts(stack, spark, reinserted),
            _amounts(stack, spark, new)) == (["6.50"], ["8.00"], ["5.25"])
    report = reconcile_now()
    assert report["clean"], report


def test_a_merge_replayed_after_a_crash_inserts_its_new_rows_once(
        stack, spark, pg, user, ingest_now, reconcile_now, delta_version):
    changed, new = _ids("changed", "new")
    _insert(pg, user, changed)
    ingest_now()
    _insert(pg, user, new)
    pg.execute("UPDATE transactions SET amount = 6.50 WHERE transaction_id = %s", (changed,))
    ingest_now()
    merged = delta_version(lake.silver(TRANSACTIONS).path(stack))
    batch_id = int(_last_merge_commit(stack, spark).userMetadata.rpartition("=")[2])
    records, lsns = _records_of(stack, spark, (new, "c"), (changed, "u"))
    # The crash replayed: silver's MERGE committed, bronze's append did not.
    # Bronze then held none of the batch, so `new` is fresh again, a row the
    # MERGE inserts without looking for it in silver.
    applier = BatchApplier(spark, stack, ingest._run_id(stack, spark),
                           {s.name: s for s in CAPTURED})
    applier._held[TRANSACTIONS.name] = Held(apply.NO_LSN, min(lsns) - 1)

    applier(records, batch_id)

    assert delta_version(lake.silver(TRANSACTIONS).path(stack)) == merged  # the MERGE found its mark
    assert (_amounts(stack, spark, changed), _amounts(stack, spark, new)) == (["6.50"], ["5.25"])
    report = reconcile_now()
    assert report["clean"], report


def test_a_row_inserted_and_changed_within_one_batch_is_appended_as_it_ends(
        stack, spark, pg, user, ingest_now, reconcile_now):
    changed, gone, back = _ids("changed", "gone", "back")
    _insert(pg, user, changed, gone, back)
    pg.execute("UPDATE transactions SET amount = 7.75 WHERE transaction_id = %s", (changed,))
    pg.execute("DELETE FROM transactions WHERE transaction_id IN (%s, %s)", (gone, back))
    _insert(pg, user, back)

    ingest_now()

    assert _last_silver_operation(stack, spark) == "WRITE"
    assert (_amounts(stack, spark, changed), _amounts(stack, spark, gone),
            _amounts(stack, spark, back)) == (["7.75"], [], ["5.25"])
    report = reconcile_now()
    assert report["clean"], report


def test_an_insert_sharing_its_kafka_key_with_a_dead_letter_is_merged(
        stack, spark, pg, user, ingest_now, reconcile_now, kafka_record):
    # A dead letter may have been the delete of a row silver still holds: the
    # key's next insert must overwrite that row, not add a second one.
    [reinserted] = _ids("dead-lettered")
    _insert(pg, user, reinserted)
    ingest_now()
    producer = Producer({"bootstrap.servers": stack.kafka_bootstrap_servers})
    producer.produce(stack.cdc_topic("transactions"), key=kafka_record(reinserted, "c").key(),
                     value=b"a delete, mangled on the way")
    producer.flush(10)
    pg.execute("DELETE FROM transactions WHERE transaction_id = %s", (reinserted,))
    ingest_now()  # the dead letter and the delete
    _insert(pg, user, reinserted)

    ingest_now()

    assert _last_silver_operation(stack, spark) == "MERGE"
    assert _amounts(stack, spark, reinserted) == ["5.25"]
    [other] = _ids("other")
    _insert(pg, user, other)
    ingest_now()
    assert _last_silver_operation(stack, spark) == "WRITE"  # other keys still append
    report = reconcile_now()
    assert report["clean"] and report["dead_letters"] >= 1, report


def _last_merge_commit(stack, spark):
    from delta.tables import DeltaTable

    table = DeltaTable.forPath(spark, lake.silver(TRANSACTIONS).path(stack))
    [commit] = table.history(1).collect()
    assert commit.operation == "MERGE"
    # Marked with the writer and its batch, like every commit of ingest.
    assert re.fullmatch(r"txlake-ingest-.+-transactions-merge:batch=\d+", commit.userMetadata)
    return commit


def _last_merge_metrics(stack, spark) -> dict[str, str]:
    return _last_merge_commit(stack, spark).operationMetrics


def _records_of(stack, spark, *events: tuple[str, str]):
    """The Kafka records of these (transaction id, op) events, as a
    micro-batch gets them, and their LSNs (found by their place in bronze)."""
    wanted = " OR ".join(f"(key = '{key}' AND op = '{op}')" for key, op in events)
    rows = (spark.read.format("delta").load(lake.changelog(TRANSACTIONS).path(stack))
            .where(wanted).select("topic", "partition", "offset", "lsn").collect())
    assert len(rows) == len(events)
    topic = rows[0].topic
    partitions = sorted({row.partition for row in rows})
    first = {str(p): min(r.offset for r in rows if r.partition == p) for p in partitions}
    after = {str(p): max(r.offset for r in rows if r.partition == p) + 1 for p in partitions}
    records = (spark.read.format("kafka")
               .option("kafka.bootstrap.servers", stack.kafka_bootstrap_servers)
               .option("assign", json.dumps({topic: partitions}))
               .option("startingOffsets", json.dumps({topic: first}))
               .option("endingOffsets", json.dumps({topic: after})).load())
    return records, [row.lsn for row in rows]


def _compact_silver(stack, spark) -> None:
    from delta.tables import DeltaTable

    DeltaTable.forPath(spark, lake.silver(TRANSACTIONS).path(stack)).optimize().executeCompaction()


def _files_of(stack, spark, *transaction_ids: str) -> set[str]:
    """The data files of silver holding these transactions."""
    rows = (spark.read.format("delta").load(lake.silver(TRANSACTIONS).path(stack))
            .where(F.col("transaction_id").isin(*transaction_ids))
            .select("_metadata.file_path").distinct().collect())
    return {row.file_path for row in rows}


def test_a_merge_rewrites_the_small_files_it_changes(stack, spark, pg, user, ingest_now,
                                                      reconcile_now):
    changed, untouched = _ids("changed", "untouched")
    _insert(pg, user, changed, untouched)
    ingest_now()  # appended: one small file
    pg.execute("UPDATE transactions SET amount = 6.50 WHERE transaction_id = %s", (changed,))

    ingest_now()

    metrics = _last_merge_metrics(stack, spark)
    assert metrics["numTargetRowsUpdated"] == "1"
    # The file is written again, without a deletion vector.
    assert int(metrics["numTargetFilesRemoved"]) >= 1
    assert metrics["numTargetDeletionVectorsAdded"] == "0"
    assert (_amounts(stack, spark, changed), _amounts(stack, spark, untouched)) == (
        ["6.50"], ["5.25"])
    report = reconcile_now()
    assert report["clean"], report


def test_a_merge_marks_the_changed_rows_of_larger_files_in_deletion_vectors(
        stack, spark, pg, user, ingest_now, reconcile_now, monkeypatch):
    monkeypatch.setattr(apply, "COPY_ON_WRITE_MAX_BYTES", 0)  # every file is larger
    changed, deleted, untouched = _ids("changed", "deleted", "untouched")
    _insert(pg, user, changed, deleted, untouched)
    ingest_now()
    # An append spreads its rows over files by key hash; a file whose rows all
    # change is dropped whole, with no deletion vector. Compacted, the changed
    # rows share their file with rows that stay.
    _compact_silver(stack, spark)
    assert len(_files_of(stack, spark, changed, deleted, untouched)) == 1
    pg.execute("UPDATE transactions SET amount = 6.50 WHERE transaction_id = %s", (changed,))
    pg.execute("DELETE FROM transactions WHERE transaction_id = %s", (deleted,))

    ingest_now()

    metrics = _last_merge_metrics(stack, spark)
    assert (metrics["numTargetRowsUpdated"], metrics["numTargetRowsDeleted"]) == ("1", "1")
    # The file stays; a deletion vector hides the old rows.
    assert int(metrics["numTargetDeletionVectorsAdded"]) >= 1
    assert (_amounts(stack, spark, changed), _amounts(stack, spark, deleted),
            _amounts(stack, spark, untouched)) == (["6.50"], [], ["5.25"])
    report = reconcile_now()
    assert report["clean"], report
