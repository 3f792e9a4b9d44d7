"""Apply one micro-batch of Kafka records to bronze, silver and the dead letters.

Exactly-once effect, whatever crashes and restarts happen:
- every Delta write of a batch carries a transaction id (txnAppId, txnVersion =
  the streaming batch id), so a batch replayed after a crash is skipped by
  each table that already committed it;
- silver applies a change only if its LSN is newer than the row's (`_lsn`),
  and remembers deletes with their LSN, so a duplicate or late copy of an
  older event (at-least-once delivery) can neither overwrite nor resurrect.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from txlake.cdc import events, evolution
from txlake.cdc.tables import CAPTURED, SourceTable
from txlake.errors import TxlakeError
from txlake.lake import tables as lake
from txlake.settings import Settings


@dataclass
class BatchStats:
    batches: int = 0
    changes: Counter = field(default_factory=Counter)
    dead_letters: int = 0
    # Kafka tombstones (null value after a delete, if the connector emits them)
    # carry no change: the delete event before them did. Counted, not stored.
    tombstones: int = 0


class BatchApplier:
    """The `foreachBatch` function of the ingest query."""

    def __init__(self, spark: SparkSession, settings: Settings, run_id: str,
                 tables: dict[str, SourceTable]) -> None:
        self.spark = spark
        self.settings = settings
        self.run_id = run_id
        # The source tables as the lake knows them (grows when a column is added).
        self.tables = tables
        self.stats = BatchStats()
        # The error that stopped the query, with its own clear message
        # (Spark would wrap it in a long Java stack trace).
        self.failure: TxlakeError | None = None

    def _app_id(self, table: lake.LakeTable) -> str:
        return f"txlake-ingest-{self.run_id}-{table.name}"

    def __call__(self, records: DataFrame, batch_id: int) -> None:
        try:
            self._apply(records, batch_id)
        except TxlakeError as error:
            self.failure = error
            raise

    def _apply(self, records: DataFrame, batch_id: int) -> None:
        records = records.persist(StorageLevel.MEMORY_AND_DISK)
        try:
            if records.isEmpty():
                return
            self.stats.tombstones += records.where(F.col("value").isNull()).count()
            parsed = events.parse(records.where(F.col("value").isNotNull()))
            for name in [t.name for t in CAPTURED]:
                topic = self.settings.cdc_topic(name)
                changes = parsed.where(F.col("topic") == topic)
                source = self._follow_schema(changes, self.tables[name])
                decoded = events.decode(changes, source).persist(StorageLevel.MEMORY_AND_DISK)
                try:
                    good = decoded.where(F.col("error").isNull())
                    count = self._apply_table(source, good, batch_id)
                    self.stats.changes[source.name] += count
                    self._write_dead_letters(
                        self._dead_letters(decoded.where(F.col("error").isNotNull())), batch_id, source)
                finally:
                    decoded.unpersist()
            self.stats.batches += 1
        finally:
            records.unpersist()

    def _follow_schema(self, changes: DataFrame, source: SourceTable) -> SourceTable:
        """A column added in the source mid-run joins silver before its values are
        applied; any other drift stops the run (see evolution.reconcile_schema)."""
        unknown, missing = events.column_drift(changes, source)
        if not unknown and not missing:
            return source
        source = evolution.reconcile_schema(self.spark, self.settings, source)
        still_unknown = set(unknown) - set(source.column_names)
        if still_unknown:
            raise evolution.SchemaChangeError(
                f"{source.name}: change events carry columns the source no longer has "
                f"({', '.join(sorted(still_unknown))}); stopping before anything is lost")
        self.tables[source.name] = source
        return source

    # -- bronze -------------------------------------------------------------

    def _append(self, frame: DataFrame, table: lake.LakeTable, batch_id: int) -> None:
        (frame.write.format("delta").mode("append")
         .option("txnAppId", self._app_id(table)).option("txnVersion", batch_id)
         .save(table.path(self.settings)))

    def _apply_table(self, source: SourceTable, good: DataFrame, batch_id: int) -> int:
        good = good.persist(StorageLevel.MEMORY_AND_DISK)
        try:
            count = good.count()
            if count == 0:
                return 0
            bronze = good.select(
                "topic", "partition", "offset", "kafka_timestamp", "op", "lsn", "tx_id",
                F.timestamp_millis("source_ts_ms").alias("source_ts"), "key", "before", "after",
                F.current_timestamp().alias("ingested_at"),
            )
            self._append(bronze, lake.changelog(source), batch_id)
            self._merge_silver(source, good, batch_id)
            return count
        finally:
            good.unpersist()

    # -- silver -------------------------------------------------------------

    def _merge(self, table: lake.LakeTable, batch_id: int, build) -> None:
        """Run a MERGE as an idempotent write of this batch (skipped on replay)."""
        from delta.tables import DeltaTable

        conf = self.spark.conf
        conf.set("spark.databricks.delta.write.txnAppId", self._app_id(table))
        conf.set("spark.databricks.delta.write.txnVersion", str(batch_id))
        try:
            build(DeltaTable.forPath(self.spark, table.path(self.settings))).execute()
        finally:
            conf.unset("spark.databricks.delta.write.txnAppId")
            conf.unset("spark.databricks.delta.write.txnVersion")

    def _merge_silver(self, source: SourceTable, good: DataFrame, batch_id: int) -> None:
        # Newest change per key within the batch: LSN order is commit order for
        # one row; the offset breaks ties between a duplicate and its original.
        newest = Window.partitionBy("key").orderBy(F.col("lsn").desc(), F.col("offset").desc())
        changes = (good.withColumn("_n", F.row_number().over(newest)).where("_n = 1")
                   .select("key", "op", "lsn", "row.*"))
        deletes_table = lake.deletes(source)
        # Files whose key range misses the batch cannot hold a matching row:
        # bounding the key lets Delta skip them by their min/max statistics.
        low, high = changes.agg(F.min("key"), F.max("key")).first()
        in_range = lambda column: column.between(F.lit(low), F.lit(high))  # noqa: E731
        known_deletes = (self.spark.read.format("delta").load(deletes_table.path(self.settings))
                         .where(in_range(F.col("key")))
                         .withColumnRenamed("_lsn", "_deleted_lsn"))
        changes = (changes.join(known_deletes, "key", "left")
                   .where(F.col("_deleted_lsn").isNull() | (F.col("lsn") > F.col("_deleted_lsn")))
                   .drop("_deleted_lsn")
                   .persist(StorageLevel.MEMORY_AND_DISK))
        try:
            values = {c: f"s.`{c}`" for c in source.column_names}
            values.update({"_lsn": "s.lsn", "_ingested_at": "current_timestamp()"})
            target_key = F.col(f"t.`{source.key}`")
            match = (target_key == F.col("s.key")) & in_range(target_key)
            self._merge(lake.silver(source), batch_id, lambda target: (
                target.alias("t").merge(changes.alias("s"), match)
                .whenMatchedDelete(condition="s.op = 'd' AND s.lsn > t._lsn")
                .whenMatchedUpdate(condition="s.op <> 'd' AND s.lsn > t._lsn", set=values)
                .whenNotMatchedInsert(condition="s.op <> 'd'", values=values)))
            gone = changes.where("op = 'd'").select("key", F.col("lsn").alias("_lsn"))
            self._merge(deletes_table, batch_id, lambda target: (
                target.alias("t").merge(gone.alias("s"),
                                        (F.col("t.key") == F.col("s.key")) & in_range(F.col("t.key")))
                .whenMatchedUpdate(condition="s._lsn > t._lsn", set={"_lsn": "s._lsn"})
                .whenNotMatchedInsertAll()))
        finally:
            changes.unpersist()

    # -- dead letters -------------------------------------------------------

    @staticmethod
    def _dead_letters(bad: DataFrame) -> DataFrame:
        return bad.select(
            "topic", "partition", "offset", "kafka_timestamp",
            F.col("raw_key").alias("key"), F.col("raw_value").alias("value"), "error",
            F.current_timestamp().alias("ingested_at"))

    def _write_dead_letters(self, dead: DataFrame, batch_id: int, source: SourceTable) -> None:
        dead = dead.persist(StorageLevel.MEMORY_AND_DISK)
        try:
            count = dead.count()
            if count:
                # One transaction id per source table: both write in the same batch.
                table = lake.LakeTable(f"{lake.DEAD_LETTERS.name}-{source.name}",
                                       lake.DEAD_LETTERS.columns)
                (dead.write.format("delta").mode("append")
                 .option("txnAppId", self._app_id(table)).option("txnVersion", batch_id)
                 .save(lake.DEAD_LETTERS.path(self.settings)))
                self.stats.dead_letters += count
        finally:
            dead.unpersist()
