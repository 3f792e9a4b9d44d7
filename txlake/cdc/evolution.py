"""Source schema changes: an added nullable column flows into silver; anything
else stops ingest with a message that says what changed.

The lake's view of a source table is its silver table's schema: the columns
txlake ships with plus any it added later. The source's view is PostgreSQL's
information_schema. Comparing the two tells what happened.
"""

from __future__ import annotations

import re
from dataclasses import replace

from pyspark.sql import SparkSession

from txlake.cdc.tables import POSTGRES_TYPES, Column, SourceTable
from txlake.errors import TxlakeError
from txlake.lake import tables as lake
from txlake.settings import Settings
from txlake.source.schema import connect

# How a Spark type travels in Debezium's JSON, for columns found in silver.
_ENCODINGS = {"string": "string", "date": "days", "timestamp": "instant"}
_INTERNAL = {"_lsn", "_ingested_at"}


class SchemaChangeError(TxlakeError):
    pass


def _encoding(spark_type: str) -> str:
    if spark_type.startswith("decimal"):
        return "decimal"
    return _ENCODINGS.get(spark_type, "number")


def effective_table(spark: SparkSession, settings: Settings, source: SourceTable) -> SourceTable:
    """The source table as the lake knows it now (silver's columns)."""
    path = lake.silver(source).path(settings)
    fields = spark.read.format("delta").load(path).schema.fields
    known = set(source.column_names)
    extra = tuple(Column(f.name, f.dataType.simpleString(), _encoding(f.dataType.simpleString()))
                  for f in fields if f.name not in known and f.name not in _INTERNAL)
    return replace(source, columns=source.columns + extra)


def _source_columns(settings: Settings, table: str) -> dict[str, tuple[str, bool]]:
    """column -> (Spark type, nullable) as PostgreSQL has it now."""
    with connect(settings) as conn:
        rows = conn.execute(
            "SELECT column_name, data_type, is_nullable = 'YES', numeric_precision, numeric_scale"
            " FROM information_schema.columns WHERE table_schema = 'public' AND table_name = %s",
            (table,)).fetchall()
    out = {}
    for name, data_type, nullable, precision, scale in rows:
        if data_type == "numeric" and precision is not None:
            out[name] = (f"decimal({precision},{scale})", nullable)
        elif data_type in POSTGRES_TYPES:
            out[name] = (POSTGRES_TYPES[data_type][0], nullable)
        else:
            out[name] = (f"unsupported:{data_type}", nullable)
    return out


def reconcile_schema(spark: SparkSession, settings: Settings, table: SourceTable) -> SourceTable:
    """Bring silver's schema in line with the source, or refuse.

    Added nullable columns of a supported type are added to silver; a dropped,
    renamed or retyped column stops ingest before anything is written wrongly.
    """
    source = _source_columns(settings, table.name)
    problems = []
    for column in table.columns:
        if column.name not in source:
            problems.append(f"column {column.name} no longer exists in the source "
                            "(dropped or renamed)")
        elif _normal(source[column.name][0]) != _normal(column.spark_type):
            problems.append(f"column {column.name} changed type from {column.spark_type} "
                            f"to {source[column.name][0]}")
    added = [(name, type_, nullable) for name, (type_, nullable) in source.items()
             if name not in table.column_names]
    for name, type_, nullable in added:
        if not nullable:
            problems.append(f"new column {name} is NOT NULL (only nullable columns can be added)")
        elif type_.startswith("unsupported:"):
            problems.append(f"new column {name} has a type txlake does not map "
                            f"({type_.split(':', 1)[1]})")
    if problems:
        raise SchemaChangeError(
            f"{table.name}: the source schema changed in a way ingest cannot follow: "
            f"{'; '.join(problems)}. Nothing was written; see README, 'Schema changes'")
    if not added:
        return table
    path = lake.silver(table).path(settings)
    columns = ", ".join(f"`{name}` {type_}" for name, type_, _ in added)
    spark.sql(f"ALTER TABLE delta.`{path}` ADD COLUMNS ({columns})")
    return replace(table, columns=table.columns + tuple(
        Column(name, type_, _encoding(type_)) for name, type_, _ in added))


def _normal(spark_type: str) -> str:
    return re.sub(r"\s+", "", spark_type.lower()).replace("integer", "int")
