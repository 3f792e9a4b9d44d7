"""Lake tables appear in Trino once registered; registration is idempotent and
Spark's later writes show up without registering again."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from txlake.lake import catalog

pytestmark = pytest.mark.stack

UTC = dt.UTC
SCHEMA = "id string, amount decimal(12,2), at timestamp"


def _write(spark, stack, table, rows, mode):
    frame = spark.createDataFrame(rows, SCHEMA)
    frame.write.format("delta").mode(mode).save(stack.lake_path(table))


def test_a_table_spark_created_is_queryable_after_register_table(stack, spark, scratch_table,
                                                                 trino_query):
    _write(spark, stack, scratch_table,
           [("a", Decimal("1.50"), dt.datetime(2026, 11, 20, 8, 0, tzinfo=UTC))], "errorifexists")

    assert catalog.register_table(stack, scratch_table) is True

    rows = trino_query(f"SELECT id, amount, at FROM lakehouse.project.{scratch_table}")
    assert rows == [["a", Decimal("1.50"), dt.datetime(2026, 11, 20, 8, 0, tzinfo=UTC)]]
    assert catalog.registered_location(stack, scratch_table) == stack.lake_path(scratch_table, "s3")


def test_registering_twice_changes_nothing(stack, spark, scratch_table, trino_query):
    _write(spark, stack, scratch_table, [("a", Decimal("1.00"), None)], "errorifexists")
    assert catalog.register_table(stack, scratch_table) is True

    assert catalog.register_table(stack, scratch_table) is False
    assert catalog.register_table(stack, scratch_table) is False

    assert trino_query(f"SELECT count(*) FROM lakehouse.project.{scratch_table}") == [[1]]
    tables = trino_query("SELECT table_name FROM lakehouse.information_schema.tables "
                         f"WHERE table_schema = 'project' AND table_name = '{scratch_table}'")
    assert tables == [[scratch_table]]


def test_later_spark_writes_are_visible_without_registering_again(stack, spark, scratch_table,
                                                                 trino_query):
    _write(spark, stack, scratch_table, [("a", Decimal("1.00"), None)], "errorifexists")
    catalog.register_table(stack, scratch_table)
    assert trino_query(f"SELECT count(*) FROM lakehouse.project.{scratch_table}") == [[1]]

    _write(spark, stack, scratch_table, [("b", Decimal("2.00"), None), ("c", Decimal("3.00"), None)],
           "append")
    spark.sql(f"DELETE FROM delta.`{stack.lake_path(scratch_table)}` WHERE id = 'a'")

    assert trino_query(f"SELECT id FROM lakehouse.project.{scratch_table} ORDER BY id") == [["b"], ["c"]]


def test_a_stale_registration_is_replaced(stack, spark, scratch_table, trino_query):
    other = f"{scratch_table}_moved"
    _write(spark, stack, other, [("moved", Decimal("1.00"), None)], "errorifexists")
    _write(spark, stack, scratch_table, [("here", Decimal("1.00"), None)], "errorifexists")
    try:
        catalog.register_table(stack, scratch_table, location=stack.lake_path(other, "s3"))
        assert trino_query(f"SELECT id FROM lakehouse.project.{scratch_table}") == [["moved"]]

        assert catalog.register_table(stack, scratch_table) is True

        assert trino_query(f"SELECT id FROM lakehouse.project.{scratch_table}") == [["here"]]
    finally:
        from txlake.lake.storage import s3_client

        client = s3_client(stack)
        for item in client.list_objects_v2(Bucket=stack.lake_bucket,
                                           Prefix=f"project/{other}/").get("Contents", []):
            client.delete_object(Bucket=stack.lake_bucket, Key=item["Key"])


def test_stack_up_registers_lake_tables_that_exist_and_only_those(stack, spark, scratch_table,
                                                                  trino_query):
    missing = f"{scratch_table}_never_created"
    _write(spark, stack, scratch_table, [("a", Decimal("1.00"), None)], "errorifexists")

    registered = catalog.register_lake_tables(stack, [scratch_table, missing])

    assert registered == [scratch_table]
    assert catalog.registered_location(stack, missing) is None
    assert catalog.register_lake_tables(stack, [scratch_table, missing]) == []


def test_trino_reads_delta_timestamps_at_millisecond_precision(stack, spark, scratch_table,
                                                               trino_query):
    """A limit of Trino's Delta connector: timestamps read as timestamp(3) with time
    zone, truncated (not rounded); the federated comparison truncates the source alike."""
    at = dt.datetime(2026, 11, 20, 8, 0, 0, 123999, tzinfo=UTC)
    _write(spark, stack, scratch_table, [("a", Decimal("1.00"), at)], "errorifexists")
    catalog.register_table(stack, scratch_table)

    [[kind]] = trino_query(f"SELECT typeof(at) FROM lakehouse.project.{scratch_table}")
    [[value]] = trino_query(f"SELECT at FROM lakehouse.project.{scratch_table}")
    assert kind == "timestamp(3) with time zone"
    assert value == at.replace(microsecond=123000)
