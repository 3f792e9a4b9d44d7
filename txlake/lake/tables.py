"""The lake's Delta tables: where each lives and its schema."""

from __future__ import annotations

from dataclasses import dataclass, field

from pyspark.sql import SparkSession

from txlake.cdc.tables import CAPTURED, SourceTable
from txlake.settings import Settings


@dataclass(frozen=True)
class LakeTable:
    name: str
    columns: tuple[tuple[str, str], ...]
    # Internal tables (state of the pipeline) are not exposed in Trino.
    internal: bool = False
    properties: dict[str, str] = field(default_factory=dict)
    # Partition columns: lets a job replace one partition (a week, a day) atomically.
    partitioned_by: tuple[str, ...] = ()

    def path(self, settings: Settings) -> str:
        if self.internal:
            return f"s3a://{settings.lake_bucket}/_txlake/{self.name}"
        return settings.lake_path(self.name)


# Deletion vectors make a MERGE that deletes or updates a few rows mark them
# instead of rewriting whole files (Trino and Spark read them; delta-rs does not).
# The change data feed records which rows each commit changed and when: what
# the weekly features use to find weeks touched by late changes.
# `txlake stream` commits to bronze and silver every second or two. Writing a
# Delta checkpoint stalls that micro-batch by 1.5-2.5 s here (measured 11-30),
# so these tables write one every 100 commits instead of Delta's default 10.
_STREAMED_PROPERTIES = {"delta.checkpointInterval": "100"}
_SILVER_PROPERTIES = {"delta.enableDeletionVectors": "true",
                      "delta.enableChangeDataFeed": "true", **_STREAMED_PROPERTIES}

CHANGELOG_COLUMNS = (
    ("topic", "string"), ("partition", "int"), ("offset", "bigint"),
    ("kafka_timestamp", "timestamp"), ("op", "string"), ("lsn", "bigint"), ("tx_id", "bigint"),
    ("source_ts", "timestamp"), ("key", "string"), ("before", "string"), ("after", "string"),
    ("ingested_at", "timestamp"),
)

DEAD_LETTERS = LakeTable("cdc_dead_letters", (
    ("topic", "string"), ("partition", "int"), ("offset", "bigint"),
    ("kafka_timestamp", "timestamp"), ("key", "binary"), ("value", "binary"),
    ("error", "string"), ("ingested_at", "timestamp"),
))


def changelog(source: SourceTable) -> LakeTable:
    return LakeTable(source.changelog, CHANGELOG_COLUMNS, properties=_STREAMED_PROPERTIES)


def silver(source: SourceTable) -> LakeTable:
    columns = tuple((c.name, c.spark_type) for c in source.columns)
    return LakeTable(source.name, columns + (("_lsn", "bigint"), ("_ingested_at", "timestamp")),
                     properties=_SILVER_PROPERTIES)


INGEST_TABLES: tuple[LakeTable, ...] = (
    *(t for s in CAPTURED for t in (changelog(s), silver(s))),
    DEAD_LETTERS,
)


def ensure(spark: SparkSession, settings: Settings, table: LakeTable, path: str | None = None,
           *, recheck: bool = False) -> bool:
    """Create the Delta table if it does not exist (at its lake path unless
    `path` says otherwise, e.g. a benchmark copy). True if it was created."""
    from delta.tables import DeltaTable

    path = path or table.path(settings)
    # Checked once per table and Spark application (unless `recheck`): a warm
    # driver running job after job would otherwise pay two log reads per
    # table every time.
    seen = (spark.sparkContext.applicationId, path)
    if seen in _ENSURED and not recheck:
        return False
    if DeltaTable.isDeltaTable(spark, path):
        _add_missing_properties(spark, path, table.properties)
        _ENSURED.add(seen)
        return False
    builder = DeltaTable.createIfNotExists(spark).location(path)
    for name, type_ in table.columns:
        builder = builder.addColumn(name, type_)
    for key, value in table.properties.items():
        builder = builder.property(key, value)
    if table.partitioned_by:
        builder = builder.partitionedBy(*table.partitioned_by)
    builder.execute()
    _ENSURED.add(seen)
    return True


_ENSURED: set[tuple[str, str]] = set()


def _add_missing_properties(spark: SparkSession, path: str, wanted: dict[str, str]) -> None:
    """Tables created by an older txlake get properties added since."""
    if not wanted:
        return
    current = spark.sql(f"DESCRIBE DETAIL delta.`{path}`").first()["properties"] or {}
    missing = {k: v for k, v in wanted.items() if current.get(k) != v}
    if missing:
        assignments = ", ".join(f"'{k}' = '{v}'" for k, v in missing.items())
        spark.sql(f"ALTER TABLE delta.`{path}` SET TBLPROPERTIES ({assignments})")


def publish(settings: Settings, table: LakeTable) -> None:
    """Make a new table queryable in Trino. A Trino that is down does not stop
    the writer: `txlake stack up` registers every existing lake table anyway."""
    from txlake.artifacts import say
    from txlake.lake import catalog

    try:
        catalog.ensure_schema(settings)
        catalog.register_table(settings, table.name)
    except catalog.CatalogError as error:
        say(f"trino: {table.name} not registered yet ({error}); `txlake stack up` will do it")
