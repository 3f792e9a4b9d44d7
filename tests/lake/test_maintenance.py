"""`txlake maintain`: compaction changes no row, VACUUM keeps every file the
retention still covers, and a retention under 7 days is refused."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from txlake.errors import TxlakeError
from txlake.lake.maintenance import MIN_RETENTION_HOURS, maintain_table
from txlake.lake.storage import s3_client

pytestmark = pytest.mark.stack

APPENDS = 5


@pytest.fixture
def small_files(stack, spark) -> Iterator[str]:
    """A scratch Delta table written by five small appends (one file each), as
    ingest's micro-batches leave them; deleted afterwards."""
    from pyspark.sql import functions as F

    prefix = f"_scratch/maintain-{uuid.uuid4().hex[:10]}"
    path = f"s3a://{stack.lake_bucket}/{prefix}"
    for i in range(APPENDS):
        (spark.range(i * 10, i * 10 + 10, numPartitions=1)
         .select(F.format_string("t%04d", "id").alias("transaction_id"),
                 (F.col("id") * 1.25).cast("decimal(12,2)").alias("amount"))
         .write.format("delta").mode("append").save(path))
    yield path
    client = s3_client(stack)
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=stack.lake_bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            client.delete_object(Bucket=stack.lake_bucket, Key=item["Key"])


def _rows(spark, path: str, **options) -> list[tuple]:
    reader = spark.read.format("delta")
    for key, value in options.items():
        reader = reader.option(key, value)
    return sorted(tuple(r) for r in reader.load(path).collect())


def test_compaction_rewrites_the_small_files_into_one_and_changes_no_row(stack, spark, small_files):
    before = _rows(spark, small_files)
    result = maintain_table(spark, stack, "maintain_test", small_files, MIN_RETENTION_HOURS)
    assert (result.files_removed, result.files_added) == (APPENDS, 1)
    assert _rows(spark, small_files) == before
    assert len(before) == APPENDS * 10


def test_vacuum_keeps_every_file_a_version_inside_the_retention_needs(stack, spark, small_files):
    first_version = _rows(spark, small_files, versionAsOf=0)
    result = maintain_table(spark, stack, "maintain_test", small_files, MIN_RETENTION_HOURS)
    # The compacted-away files are minutes old: time travel to the first append still works.
    assert result.vacuumed == 0
    assert _rows(spark, small_files, versionAsOf=0) == first_version


def test_a_retention_under_seven_days_is_refused_before_anything_is_touched(stack, spark, small_files):
    with pytest.raises(TxlakeError, match="at least 168"):
        maintain_table(spark, stack, "maintain_test", small_files, 24)
    assert len(spark.read.format("delta").load(small_files).inputFiles()) == APPENDS


def test_the_command_refuses_a_short_retention_in_one_line(txlake_cli):
    run = txlake_cli("maintain", "--retention-hours", "24")
    assert run.returncode == 1
    assert run.stderr.strip().startswith("txlake: error: --retention-hours must be at least 168")
    assert len(run.stderr.strip().splitlines()) == 1
