"""`txlake reconcile`: does silver equal the source, row for row?

Reads each source table straight from PostgreSQL (JDBC) and the silver table
from the lake, joins them on the key and compares every source column with
null-safe equality. Reports counts, keys missing on either side, keys whose
values differ (up to a limit) and the dead letters parked by ingest.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from txlake.cdc.evolution import effective_table
from txlake.cdc.tables import CAPTURED, SourceTable
from txlake.lake import tables as lake
from txlake.settings import Settings


@dataclass
class TableReport:
    table: str
    source_rows: int
    lake_rows: int
    missing_in_lake: list[str] = field(default_factory=list)
    extra_in_lake: list[str] = field(default_factory=list)
    different: list[str] = field(default_factory=list)
    missing_count: int = 0
    extra_count: int = 0
    different_count: int = 0

    @property
    def clean(self) -> bool:
        return not (self.missing_count or self.extra_count or self.different_count)


def read_source(spark: SparkSession, settings: Settings, table: SourceTable) -> DataFrame:
    return (spark.read.format("jdbc")
            .option("url", f"jdbc:postgresql://{settings.postgres_host}:{settings.postgres_port}/"
                           f"{settings.postgres_db}")
            .option("user", settings.postgres_user)
            .option("password", settings.postgres_password.get_secret_value())
            .option("dbtable", f"public.{table.name}")
            .option("driver", "org.postgresql.Driver")
            .option("fetchsize", "20000")
            .load()
            .select(*[F.col(c.name).cast(c.spark_type).alias(c.name) for c in table.columns]))


def compare(source: DataFrame, silver: DataFrame, table: SourceTable, limit: int) -> TableReport:
    key = table.key
    s = source.select(*[F.col(c).alias(f"s_{c}") for c in table.column_names])
    t = silver.select(*[F.col(c).alias(f"t_{c}") for c in table.column_names])
    joined = s.join(t, F.col(f"s_{key}") == F.col(f"t_{key}"), "full_outer")
    same = F.lit(True)
    for name in table.column_names:
        same = same & F.col(f"s_{name}").eqNullSafe(F.col(f"t_{name}"))
    kind = (F.when(F.col(f"t_{key}").isNull(), "missing")
            .when(F.col(f"s_{key}").isNull(), "extra")
            .when(~same, "different"))
    diffs = (joined.select(F.coalesce(F.col(f"s_{key}"), F.col(f"t_{key}")).alias("key"),
                           kind.alias("kind"))
             .where(F.col("kind").isNotNull()).cache())
    counts = dict(diffs.groupBy("kind").count().collect())
    samples: dict[str, list[str]] = {"missing": [], "extra": [], "different": []}
    if counts:
        for row in diffs.orderBy("key").limit(limit * 3).collect():
            if len(samples[row.kind]) < limit:
                samples[row.kind].append(row.key)
    diffs.unpersist()
    return TableReport(
        table=table.name, source_rows=source.count(), lake_rows=silver.count(),
        missing_in_lake=samples["missing"], extra_in_lake=samples["extra"],
        different=samples["different"], missing_count=counts.get("missing", 0),
        extra_count=counts.get("extra", 0), different_count=counts.get("different", 0),
    )


def reconcile(spark: SparkSession, settings: Settings, limit: int = 10) -> dict:
    reports = []
    for source in CAPTURED:
        table = effective_table(spark, settings, source)
        silver = spark.read.format("delta").load(lake.silver(table).path(settings))
        reports.append(compare(read_source(spark, settings, table), silver, table, limit))
    dead_path = lake.DEAD_LETTERS.path(settings)
    dead_letters = spark.read.format("delta").load(dead_path).count()
    clean = all(r.clean for r in reports)
    return {
        "clean": clean,
        "dead_letters": dead_letters,
        "tables": [{**r.__dict__, "clean": r.clean} for r in reports],
    }
