"""The captured source tables: their columns, and how Debezium encodes each one.

This is the one description of the source schema on the lake side; the
Spark decoding, the silver tables and reconcile all derive from it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Column:
    name: str
    # Spark SQL type of the silver column.
    spark_type: str
    # How the value travels in Debezium's JSON (schemas disabled):
    #   "string"  text as is             "number" JSON number
    #   "decimal" decimal as a string (decimal.handling.mode=string), exact
    #   "instant" timestamptz as an ISO-8601 string in UTC (ZonedTimestamp)
    #   "days"    date as days since 1970-01-01 (io.debezium.time.Date)
    encoding: str


@dataclass(frozen=True)
class SourceTable:
    name: str
    key: str
    columns: tuple[Column, ...]

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def changelog(self) -> str:
        """Bronze: every change event of this table."""
        return f"{self.name}_changelog"


CUSTOMERS = SourceTable("customers", "user_id", (
    Column("user_id", "string", "string"),
    Column("name", "string", "string"),
    Column("age", "int", "number"),
    Column("gender", "string", "string"),
    Column("location", "string", "string"),
    Column("occupation", "string", "string"),
    Column("day_start", "date", "days"),
    Column("updated_at", "timestamp", "instant"),
))

TRANSACTIONS = SourceTable("transactions", "transaction_id", (
    Column("transaction_id", "string", "string"),
    Column("user_id", "string", "string"),
    Column("amount", "decimal(12,2)", "decimal"),
    Column("vendor", "string", "string"),
    Column("source", "string", "string"),
    Column("transaction_time", "timestamp", "instant"),
    Column("updated_at", "timestamp", "instant"),
))

CAPTURED = (CUSTOMERS, TRANSACTIONS)

# PostgreSQL types a column added later may have, and how each arrives.
POSTGRES_TYPES = {
    "text": ("string", "string"),
    "character varying": ("string", "string"),
    "integer": ("int", "number"),
    "smallint": ("smallint", "number"),
    "bigint": ("bigint", "number"),
    "boolean": ("boolean", "number"),
    "double precision": ("double", "number"),
    "real": ("float", "number"),
    "date": ("date", "days"),
    "timestamp with time zone": ("timestamp", "instant"),
}

