"""Apply one micro-batch of Kafka records to bronze, silver and the dead letters.

Exactly-once effect, whatever crashes and restarts happen:
- every Delta write of a batch is marked with the writer and the streaming
  batch id (the commit's userMetadata), so a batch replayed after a crash is
  skipped by each table that already has it;
- silver applies a change only if its LSN is newer than the row's (`_lsn`),
  and none older than the key's last delete (which bronze remembers), so a
  duplicate or late copy of an older event (at-least-once delivery) can
  neither overwrite nor resurrect.

Ingest holds the lake lock for its whole run, so nobody else commits to these
tables meanwhile: each table's marks are read from its history once, then
followed in memory. Bronze's mark also carries the highest LSN of a delete and
of any change it holds. They spare a micro-batch work in the common cases:
- a batch whose changes are all newer than every delete skips the lookup of
  deletes in bronze;
- rows new to silver (see `_newest_per_key`) are never looked for in it: a
  MERGE costs a second or more of fixed work per batch and joins every row
  with the table, an append writes them. A batch of inserts only, the common
  case of a stream, is one append; a stream's batch with changes of older
  rows is one MERGE that also inserts its new rows; a catch-up's batch is an
  append and a MERGE.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime

from pyspark import StorageLevel
from pyspark.sql import Column, DataFrame, SparkSession, Window
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
                 tables: dict[str, SourceTable], checkpoint_merged: bool = False) -> None:
        self.spark = spark
        self.settings = settings
        self.run_id = run_id
        # The source tables as the lake knows them (grows when a column is added).
        self.tables = tables
        self.stats = BatchStats()
        # App id -> its newest marked commit (None: none), read once per table.
        self._marks: dict[str, Mark | None] = {}
        # Source table -> the highest LSNs its bronze table holds.
        self._held: dict[str, Held] = {}
        # Source table -> the Kafka keys of its dead letters (None: one had no
        # key, or too many to look up), read once, then followed in memory.
        self._dead_keys: dict[str, set[bytes] | None] = {}
        # The error that stopped the query, with its own clear message
        # (Spark would wrap it in a long Java stack trace).
        self.failure: TxlakeError | None = None
        # Held while a batch is applied; see refuse_batches.
        self._applying = threading.Lock()
        self._refusing = False
        # A stream checkpoints silver's Delta log itself; see _Checkpoints.
        self._checkpoints = _Checkpoints(spark) if checkpoint_merged else None

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
            if self._checkpoints is not None:
                self._checkpoints.wait()

    def _apply(self, records: DataFrame, batch_id: int) -> None:
        records = records.persist(StorageLevel.MEMORY_AND_DISK)
        parts: list[_Part] = []
        try:
            clock = _Clock()
            for source in CAPTURED:
                parts.append(self._part(records, self.tables[source.name]))
            # One job decodes (into each table's cache) and summarizes the
            # whole batch, including what the split into append and MERGE
            # needs (see _split_aggregates): a micro-batch of a stream is
            # mostly the fixed cost of its Spark jobs.
            _name_jobs(self.spark, "decode")
            summaries = events.summarize([(part.decoded, part.source) for part in parts],
                                         extra=_split_aggregates())
            decoding = clock.lap("decode")
            for part in parts:
                summary = summaries[part.source.name]
                self.stats.tombstones += summary.tombstones
                if summary.good or summary.bad:
                    self._apply_table(part, summary, batch_id, _Clock(("decode", decoding)))
            if any(s.good or s.bad or s.tombstones for s in summaries.values()):
                self.stats.batches += 1
        finally:
            _name_jobs(self.spark, None)
            for part in parts:
                part.decoded.unpersist()
            records.unpersist()

    def _part(self, records: DataFrame, source: SourceTable) -> _Part:
        topic = self.settings.cdc_topic(source.name)
        changes = events.parse(records.where(F.col("topic") == topic))
        dead_keys = self._dead_letter_keys(source)
        prior = self._held_by_bronze(source)
        return _Part(source, changes, dead_keys, prior,
                     _cached_decode(changes, source, dead_keys, prior))

    def _apply_table(self, part: _Part, summary: events.Summary, batch_id: int,
                     clock: _Clock) -> None:
        source, decoded, prior = part.source, part.decoded, part.prior
        name = source.name
        if summary.unknown_columns or summary.missing_columns:
            source = self._follow_schema(summary, source)
            decoded.unpersist()
            decoded = part.decoded = _cached_decode(part.changes, source, part.dead_keys, prior)
        if summary.good:
            good = decoded.where(F.col("error").isNull())
            held = Held(max(prior.deletes_upto, summary.high_delete_lsn or NO_LSN),
                        max(prior.lsn_upto, summary.high_lsn))
            # Bronze is written beside silver: silver's writes read nothing
            # bronze gets from this batch (see _merge_silver), and each
            # table skips a replayed batch by its own mark.
            _name_jobs(self.spark, f"{name}: bronze")
            bronze = _Concurrent(self._append, _bronze(good), lake.changelog(source),
                                 batch_id, held=held)
            try:
                self._write_silver(source, good, summary, prior, batch_id, clock)
            finally:
                bronze.wait()
                clock.lap("bronze")
            self._held[name] = held
            self.stats.changes[name] += summary.good
        if summary.bad:
            _name_jobs(self.spark, f"{name}: dead letters")
            # Decoded again, with the raw bytes the cached copy leaves out.
            bad = (events.decode(part.changes, source)
                   .where(F.col("error").isNotNull() & ~F.col("tombstone")))
            self._write_dead_letters(bad, batch_id, source)
            clock.lap("dead letters")
            self.stats.dead_letters += summary.bad
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
                app_table: str | None = None, held: Held | None = None) -> None:
        """Append once per batch: a batch replayed after a crash finds its own
        commit in the table's history and skips the write."""
        app = self._app_id(app_table or table.name)
        path = table.path(self.settings)
        mark = self._mark(app, path)
        if mark is not None and mark.batch >= batch_id:
            return
        mark = Mark(batch_id, held)
        (frame.write.format("delta").mode("append")
         .option("userMetadata", mark.text(app))
         .save(path))
        self._marks[app] = mark

    def _held_by_bronze(self, source: SourceTable) -> Held:
        """The highest LSNs bronze holds for `source` (NO_LSN: none)."""
        if source.name not in self._held:
            table = lake.changelog(source)
            path = table.path(self.settings)
            mark = self._mark(self._app_id(table.name), path)
            if mark is not None and mark.held is not None:
                self._held[source.name] = mark.held
            else:  # bronze written by an older txlake: ask the table, once
                [[deletes, changes]] = (self.spark.read.format("delta").load(path).agg(
                    F.max(F.when(F.col("op") == "d", F.col("lsn"))), F.max("lsn")).collect())
                self._held[source.name] = Held(NO_LSN if deletes is None else deletes,
                                               NO_LSN if changes is None else changes)
        return self._held[source.name]

    def _dead_letter_keys(self, source: SourceTable) -> set[bytes] | None:
        if source.name not in self._dead_keys:
            topic = self.settings.cdc_topic(source.name)
            keys = (self.spark.read.format("delta").load(lake.DEAD_LETTERS.path(self.settings))
                    .where(F.col("topic") == topic).select("key").distinct()
                    .limit(MAX_DEAD_KEYS + 1).collect())
            self._dead_keys[source.name] = _key_set(row.key for row in keys)
        return self._dead_keys[source.name]

    def _remember_dead_keys(self, source: SourceTable, bad: DataFrame) -> None:
        known = self._dead_letter_keys(source)
        if known is not None:
            added = bad.select("raw_key").distinct().limit(MAX_DEAD_KEYS + 1).collect()
            self._dead_keys[source.name] = _key_set([*known, *(row.raw_key for row in added)])

    def _merge(self, table: lake.LakeTable, batch_id: int, merge,
               deletion_vectors: bool = True) -> None:
        """Run a MERGE (a DeltaMergeBuilder) into `table` once per batch, its
        commit marked with the batch; without `deletion_vectors`, the files it
        changes are rewritten instead.

        A batch replayed after a crash finds the mark and skips the MERGE: the
        fresh rows it inserts unseen would be inserted twice. (Every other
        change it applies only if newer than the row, which a replay is not.)
        The mark is the commit's userMetadata, not a Delta transaction id: set
        in the session's configuration, one would be picked up by the appends
        running beside it."""
        app = self._app_id(f"{table.name}-merge")
        mark = self._mark(app, table.path(self.settings))
        if mark is not None and mark.batch >= batch_id:
            return
        conf = self.spark.conf
        # Appends set their own userMetadata, which wins over the session's.
        settings = {
            USER_METADATA_CONF: Mark(batch_id).text(app),
            DELETION_VECTORS_CONF: str(deletion_vectors).lower(),
        }
        for key, value in settings.items():
            conf.set(key, value)
        try:
            merge.execute()
        finally:
            for key in settings:
                conf.unset(key)
        self._marks[app] = Mark(batch_id)

    def _write_silver(self, source: SourceTable, good: DataFrame, summary: events.Summary,
                      prior: Held, batch_id: int, clock: _Clock) -> None:
        # A batch with dead letters may hold anything under them: no row is fresh.
        fresh = not summary.bad
        split = summary.extra
        changes = _newest_per_key(good, fresh=fresh).persist(StorageLevel.MEMORY_AND_DISK)
        try:
            # The MERGE is bounded to the key range of its own rows (older
            # ones, mostly), not the whole batch's.
            keys = ((split["merge_low"], split["merge_high"]) if fresh
                    else (split["good_low"], split["good_high"]))
            merging = keys[0] is not None
            appending = fresh and split["fresh_inserts"] > 0
            # A few fresh rows ride along in the MERGE (see _merge_silver);
            # many, as a catch-up brings, are cheaper appended apart.
            along = merging and appending and split["fresh_inserts"] <= MERGED_FRESH_ROWS_MAX
            if appending and not along:
                self._append_fresh(source, changes, batch_id)
                clock.lap("silver append")
            # One after the other: Delta (serializable only) fails a MERGE
            # when an append to an unpartitioned table commits between its
            # read and its commit.
            if merging:
                _name_jobs(self.spark, f"{source.name}: silver merge")
                self._merge_silver(source, changes if along else changes.where(~F.col("_fresh")),
                                   keys, batch_id, along,
                                   check_deletes=summary.low_lsn <= prior.deletes_upto)
                clock.lap("silver merge")
        finally:
            changes.unpersist()

    def _append_fresh(self, source: SourceTable, changes: DataFrame, batch_id: int) -> None:
        _name_jobs(self.spark, f"{source.name}: silver append")
        # A fresh key whose newest change is a delete was inserted and deleted
        # within this batch: silver never holds it.
        rows = changes.where(F.col("_fresh") & (F.col("op") != "d")).select(
            *(F.col(f"`{c}`") for c in source.column_names),
            F.col("lsn").alias("_lsn"), "_ingested_at")
        self._append(rows, lake.silver(source), batch_id)

    def _merge_silver(self, source: SourceTable, changes: DataFrame, keys: tuple[str, str],
                      batch_id: int, with_fresh: bool, check_deletes: bool = True) -> None:
        """MERGE `changes` into silver; `with_fresh`: they include fresh rows,
        which the MERGE inserts without looking for them in silver.

        Fresh rows in the MERGE save the batch a commit of its own: an append
        and a MERGE of a stream's micro-batch took 2.24 s, one MERGE of the
        same rows 1.14 s (medians of 12 each, 100 updates and 400 inserts)."""
        # Silver forgets a deleted row, bronze remembers its delete: an older
        # change of that key delivered again later (at-least-once) must not
        # bring it back. Bronze is written beside this MERGE and may hold this
        # batch's own events or not: the same either way, as a key's newest
        # change here is never older than its deletes here. Hence `>=`: a
        # delete never drops itself, and no other change of a row shares the
        # LSN of its delete.
        if check_deletes:
            known_deletes = (self.spark.read.format("delta")
                             .load(lake.changelog(source).path(self.settings))
                             .where(_in_key_range(F.col("key"), keys) & (F.col("op") == "d"))
                             .groupBy("key").agg(F.max("lsn").alias("_deleted_lsn")))
            changes = (changes.join(known_deletes, "key", "left")
                       .where(F.col("_deleted_lsn").isNull()
                              | (F.col("lsn") >= F.col("_deleted_lsn")))
                       .drop("_deleted_lsn"))
        # Delta plans a MERGE's source again from its logical plan, in which
        # Spark finds none of this batch's cached steps: given `changes` as
        # they are, each MERGE decoded the batch's JSON again and compiled the
        # code of each step anew. As rows already computed (a local
        # checkpoint), the source costs Delta a copy and has one shape.
        rows = changes.localCheckpoint(eager=True)
        try:
            # The split's key range may hold only fresh keys (each inserted,
            # then changed, within the batch): nothing for a MERGE to look up.
            if not rows.where(~F.col("_fresh")).isEmpty():
                self._merge_rows(source, rows, keys, batch_id)
            elif with_fresh:
                self._append_fresh(source, rows, batch_id)
        finally:
            _forget_checkpoint(rows)

    def _merge_rows(self, source: SourceTable, changes: DataFrame, keys: tuple[str, str],
                    batch_id: int) -> None:
        values = {c: f"s.`{c}`" for c in source.column_names}
        values.update({"_lsn": "s.lsn", "_ingested_at": "s._ingested_at"})
        target_key = F.col(f"t.`{source.key}`")
        # A fresh row cannot be in silver: not looked for, inserted.
        match = ((target_key == F.col("s.key")) & _in_key_range(target_key, keys)
                 & ~F.col("s._fresh"))
        from delta.tables import DeltaTable

        table = lake.silver(source)
        target = DeltaTable.forPath(self.spark, table.path(self.settings))
        # The version the MERGE reads: nothing else commits to silver meanwhile.
        snapshot = target._jdt.deltaLog().unsafeVolatileSnapshot()
        rewrite = _bytes_in_key_range(self.spark, snapshot, source.key, *keys)
        self._merge(table, batch_id, (
            target.alias("t").merge(changes.alias("s"), match)
            .whenMatchedDelete(condition="s.op = 'd' AND s.lsn > t._lsn")
            .whenMatchedUpdate(condition="s.op <> 'd' AND s.lsn > t._lsn", set=values)
            .whenNotMatchedInsert(condition="s.op <> 'd'", values=values)),
            deletion_vectors=rewrite > COPY_ON_WRITE_MAX_BYTES)
        if self._checkpoints is not None:
            self._checkpoints.offer(snapshot)

    # -- dead letters -------------------------------------------------------

    def _write_dead_letters(self, bad: DataFrame, batch_id: int, source: SourceTable) -> None:
        dead = bad.select(
            "topic", "partition", "offset", "kafka_timestamp",
            F.col("raw_key").alias("key"), F.col("raw_value").alias("value"), "error",
            F.current_timestamp().alias("ingested_at"))
        # Each source table writes its dead letters under a transaction id of its own.
        self._append(dead, lake.DEAD_LETTERS, batch_id,
                     app_table=f"{lake.DEAD_LETTERS.name}-{source.name}")
        self._remember_dead_keys(source, bad)


# A MERGE that updates or deletes a few rows of a file marks them in a deletion
# vector instead of rewriting the file: the cheap way for large files. For
# small ones, the stream's own appends, rewriting is cheaper (a MERGE of ~350
# updates in a stream micro-batch: median 1.85 s rewriting against 2.55 s
# with deletion vectors): when all the files a MERGE may touch hold at most
# this much, it rewrites them.
COPY_ON_WRITE_MAX_BYTES = 8 * 1024 * 1024
# Up to this many fresh rows are inserted by a batch's MERGE rather than
# appended before it (see BatchApplier._merge_silver): a stream's batches hold
# a few thousand, a catch-up's hundreds of thousands, which the MERGE would
# shuffle for nothing.
MERGED_FRESH_ROWS_MAX = 50_000
DELETION_VECTORS_CONF = "spark.databricks.delta.merge.deletionVectors.persistent"
USER_METADATA_CONF = "spark.databricks.delta.commitInfo.userMetadata"


def _in_key_range(column, keys: tuple[str, str]):
    """`column` within [low, high]. Files whose key range misses the changes'
    cannot hold a matching row: bounding the key lets Delta skip them by their
    min/max statistics."""
    return column.between(F.lit(keys[0]), F.lit(keys[1]))


def _split_aggregates() -> dict[str, Column]:
    """What `_write_silver` needs to know of a table's part of a batch before it
    writes (see `_newest_per_key`), as aggregates over its decoded events:

    - fresh_inserts: how many good events insert a key silver cannot hold
      (none: no append);
    - merge_low, merge_high: the key range of the other good events (null:
      no MERGE). A key that is not fresh has such an event (its first), so
      the range holds every key the MERGE gets. It may also hold fresh keys
      changed again within the batch (the MERGE does not get those);
    - good_low, good_high: the key range of all good events, which a batch
      with dead letters merges."""
    good = F.col("error").isNull()
    key = F.col("key")
    fresh_insert = ((F.col("op") == "c") & (F.col("lsn") > F.col("_fresh_after").cast("bigint"))
                    & ~F.col("_dead_key"))
    return {
        "fresh_inserts": F.count(F.when(good & fresh_insert, 1)),
        "merge_low": F.min(F.when(good & ~fresh_insert, key)),
        "merge_high": F.max(F.when(good & ~fresh_insert, key)),
        "good_low": F.min(F.when(good, key)),
        "good_high": F.max(F.when(good, key)),
    }


@dataclass
class _Part:
    """One source table's part of a micro-batch."""

    source: SourceTable
    changes: DataFrame  # its Kafka records, parsed
    dead_keys: set[bytes] | None
    prior: Held  # what bronze held before this batch
    decoded: DataFrame  # cached, see _cached_decode


def _forget_checkpoint(frame: DataFrame) -> None:
    """Free the blocks of a DataFrame made by `localCheckpoint` now, rather
    than when the JVM collects it."""
    frame._jdf.queryExecution().analyzed().rdd().unpersist(False)


def _bytes_in_key_range(spark: SparkSession, snapshot, key: str, low, high) -> int:
    """Total size of the files of a Delta table's `snapshot` whose `key`
    statistics (min/max) overlap [low, high]: all a MERGE bounded to that range
    can touch. A file without statistics counts as overlapping.

    Read from the table's state as Delta keeps it for data skipping (the MERGE
    that follows needs the same state, so it is computed once)."""
    files = DataFrame(snapshot.withStats(), spark)
    low_stat = F.col("stats.minValues").getField(key)
    high_stat = F.col("stats.maxValues").getField(key)
    overlapping = files.where((low_stat.isNull() | (low_stat <= F.lit(high)))
                              & (high_stat.isNull() | (high_stat >= F.lit(low))))
    [[total]] = overlapping.agg(F.sum("size")).collect()
    return total or 0


# Appends mark their commit with the writer and batch (commitInfo.userMetadata)
# instead of a Delta transaction id: looking a transaction id up costs a
# reconstruction of the table's whole state (~1 s a write here), reading the
# newest commits of the log costs a few small reads.
BATCH_MARK = ":batch="
DELETES_MARK = ":deletes-upto="
LSN_MARK = ":lsn-upto="
RECENT_COMMITS = 20
NO_LSN = -1  # below every LSN
# Dead letters are rare; past this many keys a table simply stops appending.
MAX_DEAD_KEYS = 1000


@dataclass(frozen=True)
class Held:
    """The highest LSNs a bronze table holds: of a delete, and of any change."""

    deletes_upto: int
    lsn_upto: int


@dataclass
class Mark:
    """What a writer's marked commit says:
    `<app>:batch=<n>[:deletes-upto=<lsn>[:lsn-upto=<lsn>]]`."""

    batch: int
    held: Held | None = None  # bronze only: what the table holds after this commit

    def text(self, app: str) -> str:
        held = "" if self.held is None else (
            f"{DELETES_MARK}{self.held.deletes_upto}{LSN_MARK}{self.held.lsn_upto}")
        return f"{app}{BATCH_MARK}{self.batch}{held}"

    @classmethod
    def parse(cls, text: str, app: str) -> Mark | None:
        """The mark if `text` is one of `app`'s, else None. A bronze mark of an
        older txlake (no `lsn-upto`) says nothing of what the table holds."""
        if not text.startswith(app + BATCH_MARK):
            return None
        batch, _, rest = text[len(app) + len(BATCH_MARK):].partition(DELETES_MARK)
        deletes, _, changes = rest.partition(LSN_MARK)
        held = Held(int(deletes), int(changes)) if deletes and changes else None
        return cls(int(batch), held)


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


class _Concurrent:
    """A call run in a thread of its own; `wait` returns when it is done and
    raises what it raised (once).

    The thread inherits Spark's thread-local properties (the streaming query's
    and batch's ids, the job group, the job names), so its jobs belong to the
    batch. A MERGE sets what it needs in the session's configuration, which
    every thread sees: only settings that no other write picks up (see
    BatchApplier._merge)."""

    def __init__(self, call, *args, **kwargs) -> None:
        from pyspark import InheritableThread

        self._error: BaseException | None = None

        def run() -> None:
            try:
                call(*args, **kwargs)
            except BaseException as error:  # handed to the waiting thread
                self._error = error

        self._thread = InheritableThread(target=run, daemon=True)
        self._thread.start()

    def alive(self) -> bool:
        return self._thread.is_alive()

    def wait(self) -> None:
        self._thread.join()
        error, self._error = self._error, None
        if error is not None:
            raise error


_STEP = "\ntxlake ingest: "


def _name_jobs(spark: SparkSession, step: str | None) -> None:
    """Add `step` to the description of the Spark jobs this thread starts from
    now on (None: take it away again), so the Spark UI tells which step of a
    batch each job belongs to. Threads started later inherit it.

    The description, not the call site: PySpark sets the call site of every
    collect itself."""
    context = spark.sparkContext
    batch = (context.getLocalProperty("spark.job.description") or "").partition(_STEP)[0]
    described = batch + _STEP + step if step else batch
    context.setLocalProperty("spark.job.description", described or None)


# A MERGE reads the table's state: Delta rebuilds it for each new version from
# the newest checkpoint and every commit since. A stream commits to silver
# twice a batch, and the rebuild grows with the commits it replays (0.17 s
# just after a checkpoint, 0.7-0.9 s 90 commits later; median 0.47 s with
# Delta's checkpoints every 100 commits, 0.22 s with these, measured 12-01).
# Delta's own checkpoint, every 100 commits, first rebuilds the state again and
# stalls the batch 1.5-2.5 s. The state a MERGE just read is already built:
# written out as a checkpoint beside the next batch, it costs a small job.
CHECKPOINT_EVERY_COMMITS = 10


class _Checkpoints:
    """Writes a checkpoint of a version a MERGE read, in a thread of its own,
    once CHECKPOINT_EVERY_COMMITS commits passed since the newest checkpoint;
    one at a time."""

    def __init__(self, spark: SparkSession) -> None:
        self.spark = spark
        self._running: _Concurrent | None = None
        self._written = -1  # the newest version checkpointed here

    def offer(self, snapshot) -> None:
        if self._running is not None and self._running.alive():
            return
        self.wait()
        newest = max(self._written, snapshot.logSegment().checkpointProvider().version())
        if snapshot.version() - newest >= CHECKPOINT_EVERY_COMMITS:
            self._written = snapshot.version()
            self._running = _Concurrent(self._write, snapshot)

    def _write(self, snapshot) -> None:
        _name_jobs(self.spark, "silver checkpoint")
        none = self.spark.sparkContext._jvm.scala.Option.empty()
        # Delta logs a checkpoint that fails and goes on: a checkpoint only
        # saves readers work, the commits alone hold the table.
        snapshot.deltaLog().checkpoint(snapshot, none)

    def wait(self) -> None:
        if self._running is not None:
            running, self._running = self._running, None
            running.wait()


class _Clock:
    """Where a batch spends its time, for the progress line."""

    def __init__(self, *earlier: tuple[str, float]) -> None:
        """`earlier`: laps shared with another clock, run before this one started."""
        self.laps: list[tuple[str, float]] = list(earlier)
        self.last = time.monotonic()
        self.started = self.last - sum(seconds for _, seconds in earlier)

    def lap(self, name: str) -> float:
        now = time.monotonic()
        seconds, self.last = now - self.last, now
        self.laps.append((name, seconds))
        return seconds

    def total(self) -> float:
        return time.monotonic() - self.started

    def __str__(self) -> str:
        return ", ".join(f"{name} {seconds:.1f}s" for name, seconds in self.laps)


def _cached_decode(changes: DataFrame, source: SourceTable,
                   dead_keys: set[bytes] | None, prior: Held) -> DataFrame:
    """The decoded events, cached for the passes over them, without the raw
    Kafka bytes: only dead letters need those (rarely; they decode again), and
    leaving them out of the cache takes ~1.4 s off a 500k-change batch.
    `_dead_key` tells whether an event's Kafka key is a dead letter's (true
    for all when the dead letters' keys are not known one by one).

    The batch's own values ride along as text columns, `_ingested_at` (the
    time of ingest) and `_fresh_after` (see `_newest_per_key`), cast where
    they are read. Spark writes a number or timestamp literal into the code
    it generates, so each query holding one was compiled anew every batch
    (the MERGE's alone ~4,000 lines of Java), and the JVM ran the new
    classes slowly until its JIT compiled them too. A text literal reaches
    the generated code as a reference instead, so a stream's batches reuse
    the code compiled for the first one."""
    if dead_keys is None:
        dead = F.lit(True)
    elif dead_keys:
        dead = F.col("raw_key").isin(*dead_keys)
    else:
        dead = F.lit(False)
    return (events.decode(changes, source).withColumn("_dead_key", dead)
            .withColumn("_ingested_at", F.lit(datetime.now(UTC).isoformat()))
            .withColumn("_fresh_after", F.lit(str(prior.lsn_upto)))
            .drop("raw_key", "raw_value").persist(StorageLevel.MEMORY_AND_DISK))


def _key_set(keys) -> set[bytes] | None:
    """Kafka keys as a set; None when one is missing (it could be any row's)
    or when there are more than MAX_DEAD_KEYS."""
    keys = list(keys)
    if any(key is None for key in keys) or len(set(keys)) > MAX_DEAD_KEYS:
        return None
    return {bytes(key) for key in keys}


def _newest_per_key(good: DataFrame, fresh: bool) -> DataFrame:
    """Newest change per key within the batch (LSN order is commit order for
    one row; the offset breaks ties between a duplicate and its original),
    with `_fresh`: whether silver cannot hold the key, so appending its newest
    row equals merging it.

    A key is fresh when its first change in the batch is an insert newer than
    `_fresh_after`, the highest LSN bronze held before this batch (without
    `fresh`, no key is). Such an insert has not been applied: silver appends
    a batch's rows only in that batch (a replay of it finds the append's
    mark), and the next batch starts after bronze holds them, so a copy of an
    applied insert delivered later is never newer.
    And a row silver holds cannot be inserted again in the source until it is
    deleted there; that delete comes before the insert on the key's Kafka
    partition, so it would be the key's first change here, or was applied in
    an earlier batch. Unless it went to the dead letters: a key whose Kafka key
    (Debezium derives it from the primary key) is a dead letter's is merged.
    """
    by_key = Window.partitionBy("key")
    if fresh:
        first_op = F.min_by("op", F.struct("lsn", "offset")).over(by_key)
        after = F.col("_fresh_after").cast("bigint")
        is_fresh = ((first_op == "c") & (F.min("lsn").over(by_key) > after)
                    & ~F.max("_dead_key").over(by_key))
    else:
        is_fresh = F.lit(False)
    newest = by_key.orderBy(F.col("lsn").desc(), F.col("offset").desc())
    return (good.withColumn("_fresh", is_fresh)
            .withColumn("_n", F.row_number().over(newest)).where("_n = 1")
            .select("key", "op", "lsn", "_fresh", _ingested_at(), "row.*"))


def _ingested_at():
    """The batch's time of ingest (see `_cached_decode`)."""
    return F.col("_ingested_at").cast("timestamp").alias("_ingested_at")


def _bronze(good: DataFrame) -> DataFrame:
    return good.select(
        "topic", "partition", "offset", "kafka_timestamp", "op", "lsn", "tx_id",
        F.timestamp_millis("source_ts_ms").alias("source_ts"), "key", "before", "after",
        _ingested_at().alias("ingested_at"),
    )
