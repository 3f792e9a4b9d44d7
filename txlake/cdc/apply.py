"""Apply one micro-batch of Kafka records to bronze, silver and the dead letters.

Exactly-once effect, whatever crashes and restarts happen:
- every Delta write of a batch is marked with the writer and the streaming
  batch id (a transaction id for a MERGE, the commit's userMetadata for an
  append), so a batch replayed after a crash is skipped by each table that
  already committed it;
- silver applies a change only if its LSN is newer than the row's (`_lsn`),
  and none older than the key's last delete (which bronze remembers), so a
  duplicate or late copy of an older event (at-least-once delivery) can
  neither overwrite nor resurrect.

Ingest holds the lake lock for its whole run, so nobody else commits to these
tables meanwhile: each table's marks are read from its history once, then
followed in memory. Bronze's mark also carries the highest LSN of a delete it
holds; a batch whose changes are all newer than that cannot hold a change that
a delete overtook, and skips the lookup of deletes in bronze (the common case,
and a second of a streaming micro-batch).
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from txlake.artifacts import say
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


class StopRequested(Exception):
    """Raised into Spark by a batch that starts after `stream` was told to stop:
    the batch fails before it writes anything, so its offsets stay uncommitted."""


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
        # App id -> its newest marked commit (None: none), read once per table.
        self._marks: dict[str, Mark | None] = {}
        # Source table -> highest LSN of a delete its bronze table holds.
        self._deletes_upto: dict[str, int] = {}
        # The error that stopped the query, with its own clear message
        # (Spark would wrap it in a long Java stack trace).
        self.failure: TxlakeError | None = None
        # Held while a batch is applied; see refuse_batches.
        self._applying = threading.Lock()
        self._refusing = False

    def _app_id(self, table_name: str) -> str:
        return f"txlake-ingest-{self.run_id}-{table_name}"

    def __call__(self, records: DataFrame, batch_id: int) -> None:
        with self._applying:
            if self._refusing:
                raise StopRequested(f"batch {batch_id} left for the next run: stopping")
            try:
                self._apply(records, batch_id)
            except TxlakeError as error:
                self.failure = error
                raise

    def refuse_batches(self) -> None:
        """Wait for the batch being applied (if any) to finish, and refuse every
        later one: what a stop between batches needs."""
        with self._applying:
            self._refusing = True

    def _apply(self, records: DataFrame, batch_id: int) -> None:
        records = records.persist(StorageLevel.MEMORY_AND_DISK)
        try:
            per_topic = {row["topic"]: (row["records"], row["tombstones"]) for row in
                         records.groupBy("topic").agg(
                             F.count(F.lit(1)).alias("records"),
                             F.count(F.when(F.col("value").isNull(), 1)).alias("tombstones"),
                         ).collect()}
            if not per_topic:
                return
            self.stats.tombstones += sum(t for _, t in per_topic.values())
            parsed = events.parse(records.where(F.col("value").isNotNull()))
            for name in [t.name for t in CAPTURED]:
                topic = self.settings.cdc_topic(name)
                present, tombstones = per_topic.get(topic, (0, 0))
                if present > tombstones:
                    self._apply_topic(parsed.where(F.col("topic") == topic), name, batch_id)
            self.stats.batches += 1
        finally:
            records.unpersist()

    def _apply_topic(self, changes: DataFrame, name: str, batch_id: int) -> None:
        source = self.tables[name]
        clock = _Clock()
        decoded = _cached_decode(changes, source)
        try:
            summary = events.summarize(decoded, source)
            clock.lap("decode")
            if summary.unknown_columns or summary.missing_columns:
                source = self._follow_schema(summary, source)
                decoded.unpersist()
                decoded = _cached_decode(changes, source)
            if summary.good:
                good = decoded.where(F.col("error").isNull())
                prior = self._known_deletes_upto(source)
                upto = max(prior, summary.high_delete_lsn or NO_LSN)
                self._append(_bronze(good), lake.changelog(source), batch_id, deletes_upto=upto)
                self._deletes_upto[source.name] = upto
                clock.lap("bronze")
                self._merge_silver(source, good, summary, batch_id, clock,
                                   check_deletes=summary.low_lsn <= prior)
                self.stats.changes[name] += summary.good
            if summary.bad:
                # Decoded again, with the raw bytes the cached copy leaves out.
                bad = events.decode(changes, source).where(F.col("error").isNotNull())
                self._write_dead_letters(bad, batch_id, source)
                clock.lap("dead letters")
                self.stats.dead_letters += summary.bad
        finally:
            decoded.unpersist()
        say(f"batch {batch_id}: {name}: {summary.good:,} change(s), {summary.bad:,} dead "
            f"letter(s) in {clock.total():.1f}s ({clock})")

    def _follow_schema(self, summary: events.Summary, source: SourceTable) -> SourceTable:
        """A column added in the source mid-run joins silver before its values are
        applied; any other drift stops the run (see evolution.reconcile_schema)."""
        source = evolution.reconcile_schema(self.spark, self.settings, source)
        still_unknown = set(summary.unknown_columns) - set(source.column_names)
        if still_unknown:
            raise evolution.SchemaChangeError(
                f"{source.name}: change events carry columns the source no longer has "
                f"({', '.join(sorted(still_unknown))}); stopping before anything is lost")
        self.tables[source.name] = source
        return source

    def _mark(self, app: str, path: str) -> Mark | None:
        if app not in self._marks:
            self._marks[app] = last_mark(self.spark, path, app)
        return self._marks[app]

    def _append(self, frame: DataFrame, table: lake.LakeTable, batch_id: int,
                app_table: str | None = None, deletes_upto: int | None = None) -> None:
        """Append once per batch: a batch replayed after a crash finds its own
        commit in the table's history and skips the write."""
        app = self._app_id(app_table or table.name)
        path = table.path(self.settings)
        mark = self._mark(app, path)
        if mark is not None and mark.batch >= batch_id:
            return
        mark = Mark(batch_id, deletes_upto)
        (frame.write.format("delta").mode("append")
         .option("userMetadata", mark.text(app))
         .save(path))
        self._marks[app] = mark

    def _known_deletes_upto(self, source: SourceTable) -> int:
        """The highest LSN of a delete bronze holds for `source` (NO_LSN: none)."""
        if source.name not in self._deletes_upto:
            table = lake.changelog(source)
            path = table.path(self.settings)
            mark = self._mark(self._app_id(table.name), path)
            if mark is not None and mark.deletes_upto is not None:
                self._deletes_upto[source.name] = mark.deletes_upto
            else:  # bronze written by an older txlake: ask the table, once
                [[upto]] = (self.spark.read.format("delta").load(path)
                            .where(F.col("op") == "d").agg(F.max("lsn")).collect())
                self._deletes_upto[source.name] = NO_LSN if upto is None else upto
        return self._deletes_upto[source.name]

    def _merge(self, table: lake.LakeTable, batch_id: int, build) -> None:
        """Run a MERGE as an idempotent write of this batch (skipped on replay)."""
        from delta.tables import DeltaTable

        conf = self.spark.conf
        conf.set("spark.databricks.delta.write.txnAppId", self._app_id(table.name))
        conf.set("spark.databricks.delta.write.txnVersion", str(batch_id))
        try:
            build(DeltaTable.forPath(self.spark, table.path(self.settings))).execute()
        finally:
            conf.unset("spark.databricks.delta.write.txnAppId")
            conf.unset("spark.databricks.delta.write.txnVersion")

    def _merge_silver(self, source: SourceTable, good: DataFrame, summary: events.Summary,
                      batch_id: int, clock: _Clock, check_deletes: bool = True) -> None:
        # Newest change per key within the batch: LSN order is commit order for
        # one row; the offset breaks ties between a duplicate and its original.
        newest = Window.partitionBy("key").orderBy(F.col("lsn").desc(), F.col("offset").desc())
        changes = (good.withColumn("_n", F.row_number().over(newest)).where("_n = 1")
                   .select("key", "op", "lsn", "row.*"))

        # Files whose key range misses the batch cannot hold a matching row:
        # bounding the key lets Delta skip them by their min/max statistics.
        def in_range(column):
            return column.between(F.lit(summary.low_key), F.lit(summary.high_key))

        # Silver forgets a deleted row, bronze remembers its delete: an older
        # change of that key delivered again later (at-least-once) must not
        # bring it back. Bronze already holds this batch's own events (it is
        # written first), hence `>=`: a delete never drops itself, and no
        # other change of a row shares the LSN of its delete.
        if check_deletes:
            known_deletes = (self.spark.read.format("delta")
                             .load(lake.changelog(source).path(self.settings))
                             .where(in_range(F.col("key")) & (F.col("op") == "d"))
                             .groupBy("key").agg(F.max("lsn").alias("_deleted_lsn")))
            changes = (changes.join(known_deletes, "key", "left")
                       .where(F.col("_deleted_lsn").isNull()
                              | (F.col("lsn") >= F.col("_deleted_lsn")))
                       .drop("_deleted_lsn"))
        changes = changes.persist(StorageLevel.MEMORY_AND_DISK)
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
            clock.lap("silver")
        finally:
            changes.unpersist()

    # -- dead letters -------------------------------------------------------

    def _write_dead_letters(self, bad: DataFrame, batch_id: int, source: SourceTable) -> None:
        dead = bad.select(
            "topic", "partition", "offset", "kafka_timestamp",
            F.col("raw_key").alias("key"), F.col("raw_value").alias("value"), "error",
            F.current_timestamp().alias("ingested_at"))
        # Each source table writes its dead letters under a transaction id of its own.
        self._append(dead, lake.DEAD_LETTERS, batch_id,
                     app_table=f"{lake.DEAD_LETTERS.name}-{source.name}")


# Appends mark their commit with the writer and batch (commitInfo.userMetadata)
# instead of a Delta transaction id: looking a transaction id up costs a
# reconstruction of the table's whole state (~1 s a write here), reading the
# newest commits of the log costs a few small reads.
BATCH_MARK = ":batch="
DELETES_MARK = ":deletes-upto="
RECENT_COMMITS = 20
NO_LSN = -1  # below every LSN


@dataclass
class Mark:
    """What a writer's marked commit says: `<app>:batch=<n>[:deletes-upto=<lsn>]`."""

    batch: int
    # Bronze only: the highest LSN of a delete the table holds after this commit.
    deletes_upto: int | None = None

    def text(self, app: str) -> str:
        upto = "" if self.deletes_upto is None else f"{DELETES_MARK}{self.deletes_upto}"
        return f"{app}{BATCH_MARK}{self.batch}{upto}"

    @classmethod
    def parse(cls, text: str, app: str) -> Mark | None:
        """The mark if `text` is one of `app`'s, else None."""
        if not text.startswith(app + BATCH_MARK):
            return None
        batch, _, upto = text[len(app) + len(BATCH_MARK):].partition(DELETES_MARK)
        return cls(int(batch), int(upto) if upto else None)


def last_mark(spark: SparkSession, path: str, app: str) -> Mark | None:
    """The mark of the newest batch `app` committed to the Delta table at `path`.

    Only ingest (one writer at a time, under the lake lock) and `txlake
    maintain` commit to these tables, so the newest marked commit is nearly
    always among the last few; the whole history is read only when not.
    """
    from delta.tables import DeltaTable

    table = DeltaTable.forPath(spark, path)
    for limit in (RECENT_COMMITS, None):
        history = table.history(limit) if limit else table.history()
        texts = [row["userMetadata"] or "" for row in history.select("userMetadata").collect()]
        for text in texts:  # newest first
            mark = Mark.parse(text, app)
            if mark is not None:
                return mark
        if limit and len(texts) < limit:
            return None  # that was the whole history
    return None


def last_committed_batch(spark: SparkSession, path: str, app: str) -> int | None:
    mark = last_mark(spark, path, app)
    return None if mark is None else mark.batch


class _Clock:
    """Where a batch spends its time, for the progress line."""

    def __init__(self) -> None:
        self.started = self.last = time.monotonic()
        self.laps: list[tuple[str, float]] = []

    def lap(self, name: str) -> None:
        now = time.monotonic()
        self.laps.append((name, now - self.last))
        self.last = now

    def total(self) -> float:
        return time.monotonic() - self.started

    def __str__(self) -> str:
        return ", ".join(f"{name} {seconds:.1f}s" for name, seconds in self.laps)


def _cached_decode(changes: DataFrame, source: SourceTable) -> DataFrame:
    """The decoded events, cached for the passes over them, without the raw
    Kafka bytes: only dead letters need those (rarely; they decode again), and
    leaving them out of the cache takes ~1.4 s off a 500k-change batch."""
    return (events.decode(changes, source).drop("raw_key", "raw_value")
            .persist(StorageLevel.MEMORY_AND_DISK))


def _bronze(good: DataFrame) -> DataFrame:
    return good.select(
        "topic", "partition", "offset", "kafka_timestamp", "op", "lsn", "tx_id",
        F.timestamp_millis("source_ts_ms").alias("source_ts"), "key", "before", "after",
        F.current_timestamp().alias("ingested_at"),
    )
