"""Decode Debezium change events from Kafka records, in Spark.

A record is either a valid change event of a captured table — then it gets
its op, LSN, key and typed row images — or it is set aside with the reason
why (`error` not null): it goes to the dead-letter table, never nowhere.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import reduce

from pyspark.sql import Column as SparkColumn
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from txlake.cdc.tables import Column, SourceTable

# The envelope with the row images kept as JSON text: bronze stores them as
# they came, and a column the lake does not know yet is still visible there.
ENVELOPE = (
    "struct<before:string, after:string, op:string, ts_ms:long,"
    " source:struct<lsn:long, txId:long, ts_ms:long, table:string, snapshot:string>>"
)
VALID_OPS = ("c", "u", "d", "r")


def _raw_type(column: Column) -> str:
    """How the column is read from JSON before conversion."""
    return {"decimal": "string", "instant": "string", "days": "int"}.get(column.encoding,
                                                                        column.spark_type)


def _raw_schema(table: SourceTable) -> str:
    return "struct<" + ", ".join(f"`{c.name}`:{_raw_type(c)}" for c in table.columns) + ">"


def _convert(raw: SparkColumn, column: Column) -> SparkColumn:
    if column.encoding == "decimal":
        return raw.try_cast(column.spark_type)
    if column.encoding == "instant":
        return raw.try_cast("timestamp")
    if column.encoding == "days":
        return F.date_add(F.lit("1970-01-01").cast("date"), raw)
    return raw


def _converts_exactly(column: Column) -> SparkColumn:
    raw = F.col(f"_raw.`{column.name}`")
    converted = _convert(raw, column)
    if column.encoding == "decimal":
        # Debezium writes a numeric(p,s) value with exactly s decimals: any
        # other text would be rounded by the cast, i.e. changed. Refuse it.
        return converted.isNotNull() & (converted.cast("string") == raw)
    return converted.isNotNull()


def parse(records: DataFrame) -> DataFrame:
    """Kafka records -> one row per record with the envelope's fields.

    Columns: topic, partition, offset, kafka_timestamp, raw_key, raw_value,
    tombstone, op, lsn, tx_id, source_ts_ms, source_table, before, after
    (JSON text). A tombstone (a null value, which Kafka compaction reads as
    "forget this key") decodes with an error, like any record that is no
    change event: `tombstone` tells it apart from a malformed one.
    """
    envelope = F.from_json(F.col("value").cast("string"), ENVELOPE)
    return records.select(
        "topic", "partition", "offset", F.col("timestamp").alias("kafka_timestamp"),
        F.col("key").alias("raw_key"), F.col("value").alias("raw_value"),
        envelope.alias("e"),
    ).select(
        "topic", "partition", "offset", "kafka_timestamp", "raw_key", "raw_value",
        F.col("raw_value").isNull().alias("tombstone"),
        F.col("e.op").alias("op"),
        F.col("e.source.lsn").alias("lsn"),
        F.col("e.source.txId").alias("tx_id"),
        F.col("e.source.ts_ms").alias("source_ts_ms"),
        F.col("e.source.table").alias("source_table"),
        F.col("e.before").alias("before"),
        F.col("e.after").alias("after"),
    )


def decode(events: DataFrame, table: SourceTable) -> DataFrame:
    """Add the key, the typed row image and `error` (null when the event is good).

    The row image is `after` for creates, reads and updates, `before` for
    deletes (REPLICA IDENTITY FULL gives the whole old row).
    """
    image_json = F.when(F.col("op") == "d", F.col("before")).otherwise(F.col("after"))
    raw = F.from_json(image_json, _raw_schema(table))
    with_raw = events.withColumn("_raw", raw)
    typed = [_convert(F.col(f"_raw.`{c.name}`"), c).alias(c.name) for c in table.columns]
    # A value present in the JSON that does not convert (a malformed decimal or
    # time) must not become a silent null in the lake.
    bad_values = [
        F.when(F.col(f"_raw.`{c.name}`").isNotNull() & ~_converts_exactly(c),
               F.lit(f"cannot convert {c.name} exactly"))
        for c in table.columns if c.encoding in ("decimal", "instant")
    ]
    error = F.coalesce(
        F.when(F.col("op").isNull(), F.lit("not a Debezium change event (unparseable JSON "
                                           "or missing op)")),
        F.when(~F.col("op").isin(*VALID_OPS), F.concat(F.lit("unknown op "), F.col("op"))),
        F.when(F.col("lsn").isNull(), F.lit("event without source.lsn")),
        F.when(image_json.isNull(), F.lit("event without its row image")),
        F.when(F.col("_raw").isNull(), F.lit("row image is not a JSON object")),
        F.when(F.col(f"_raw.`{table.key}`").isNull(), F.lit(f"row image without {table.key}")),
        *bad_values,
    )
    return with_raw.select(
        "*", F.col(f"_raw.`{table.key}`").alias("key"), F.struct(*typed).alias("row"),
        error.alias("error"),
    ).drop("_raw")


@dataclass(frozen=True)
class Summary:
    """What one table's part of a batch holds, from a single pass over it."""

    good: int
    bad: int  # malformed records: the dead letters
    tombstones: int
    deletes: int
    low_lsn: int | None  # of the good events
    high_lsn: int | None  # of the good events
    high_delete_lsn: int | None  # of the good deletes
    unknown_columns: list[str]
    missing_columns: list[str]
    # The caller's own aggregates (see `summarize`), by name.
    extra: dict[str, object] = field(default_factory=dict)


# Joins a row image's keys into one string; PostgreSQL names cannot hold it.
_KEY_SEPARATOR = "\u0000"


def summarize(parts: Sequence[tuple[DataFrame, SourceTable]],
              extra: Mapping[str, SparkColumn] | None = None) -> dict[str, Summary]:
    """Per table, counts, the LSN range, and column drift (columns in row
    images the lake does not know, and known ones they lack) of its decoded
    events; with `extra`, aggregates of the caller's over the same rows.

    All tables are summarized by one Spark job (a union of one aggregate row
    per table): in a stream, each job adds fixed work to every micro-batch."""
    rows = reduce(DataFrame.unionByName,
                  [_aggregate(decoded, table, extra or {}) for decoded, table in parts])
    tables = {table.name: table for _, table in parts}
    summaries = {}
    for row in rows.collect():
        table = tables[row["table"]]
        unknown, missing = _drift(row["shapes"] or [], table.column_names)
        summaries[table.name] = Summary(
            row["good"], row["bad"], row["tombstones"], row["deletes"], row["low_lsn"],
            row["high_lsn"], row["high_delete_lsn"], unknown, missing,
            {name: row[name] for name in extra or {}})
    return summaries


def _aggregate(decoded: DataFrame, table: SourceTable,
               extra: Mapping[str, SparkColumn]) -> DataFrame:
    good = F.col("error").isNull()
    bad = ~good & ~F.col("tombstone")
    image = F.when(F.col("op") == "d", F.col("before")).otherwise(F.col("after"))
    with_image = F.col("op").isin(*VALID_OPS) & image.isNotNull()
    # Every row image is checked, but as the set of distinct key lists (one or
    # two per batch): comparing each row's keys with the known columns in
    # Spark costs twice as much (1.2 s more per 500k changes).
    keys = F.json_object_keys(image)  # null when the image is not a JSON object
    shape = F.when(keys.isNotNull(), F.concat_ws(_KEY_SEPARATOR, keys))
    return decoded.agg(
        F.lit(table.name).alias("table"),
        F.count(F.when(good, 1)).alias("good"),
        F.count(F.when(bad, 1)).alias("bad"),
        F.count(F.when(F.col("tombstone"), 1)).alias("tombstones"),
        F.count(F.when(good & (F.col("op") == "d"), 1)).alias("deletes"),
        F.min(F.when(good, F.col("lsn"))).alias("low_lsn"),
        F.max(F.when(good, F.col("lsn"))).alias("high_lsn"),
        F.max(F.when(good & (F.col("op") == "d"), F.col("lsn"))).alias("high_delete_lsn"),
        F.collect_set(F.when(with_image, shape)).alias("shapes"),
        *(column.alias(name) for name, column in extra.items()),
    )


def _drift(shapes: list[str], known: list[str]) -> tuple[list[str], list[str]]:
    """(columns some image has that are not `known`, known columns some image lacks)."""
    unknown: set[str] = set()
    missing: set[str] = set()
    for shape in shapes:
        keys = set(shape.split(_KEY_SEPARATOR)) if shape else set()
        unknown |= keys - set(known)
        missing |= set(known) - keys
    return sorted(unknown), sorted(missing)
