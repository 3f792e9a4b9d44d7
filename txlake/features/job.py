"""`txlake features`: weekly gold features from silver, incrementally.

A week as of D is combined from seven daily partials (one row per user and
UTC day). A run
1. pins the current version of silver `transactions` (a consistent snapshot,
   whatever ingest commits meanwhile),
2. reads silver's change data feed since the version the partials reflect and
   marks the days those changes touch as stale; every gold week containing a
   stale day is recomputed in this run, with the requested weeks,
3. computes the partials of the days these weeks need that are missing or
   stale (reading only those days of silver: file statistics on
   `transaction_time` skip the rest),
4. combines the partials into each week and replaces exactly that week's
   rows in gold (one partition), unless they are identical already.

The daily DAG aggregates each ingested day ahead (`txlake features --day`):
the weekly run then finds its seven partials and only combines them. Such a
run recomputes the stale weeks as well, so a late change it takes up still
reaches gold.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from txlake.artifacts import say
from txlake.errors import TxlakeError
from txlake.features import aggregate, stale, state, vendors
from txlake.features.tables import DAILY, FEATURES, VENDOR_IDS, FeaturePaths
from txlake.lake import storage
from txlake.lake import tables as lake
from txlake.lake.lock import lake_lock
from txlake.settings import Settings


@dataclass
class WeekResult:
    as_of: str
    users: int
    reason: str  # "requested" or "stale"
    changed: bool  # False: the week's rows were identical already, nothing written


@dataclass
class FeaturesRun:
    silver_version: int
    stale_days: list[str] = field(default_factory=list)
    partial_days: list[str] = field(default_factory=list)
    weeks: list[WeekResult] = field(default_factory=list)
    seconds: float = 0.0

    def as_dict(self) -> dict:
        out = asdict(self)
        out["seconds"] = round(self.seconds, 2)
        return out


def as_of_range(first: date, last: date) -> list[date]:
    """Backfill convention: `first`, `first` + 7d, ... up to and including `last`."""
    if last < first:
        raise TxlakeError(f"--to ({last}) is before --from ({first})")
    days = (last - first).days
    return [first + timedelta(days=i) for i in range(0, days + 1, 7)]


def compute_week(spark: SparkSession, settings: Settings, as_of: date,
                 paths: FeaturePaths | None = None) -> dict:
    """One week as of `as_of` (plus any stale week), in this process's Spark session."""
    return run(spark, settings, [as_of], paths=paths).as_dict()


def run(spark: SparkSession, settings: Settings, as_of_dates: list[date],
        paths: FeaturePaths | None = None, days: list[date] = ()) -> FeaturesRun:
    """Compute the weeks as of `as_of_dates` and recompute every stale week.
    An empty list recomputes only the stale weeks (`txlake features --stale`).
    `days` are aggregated into daily partials ahead of the weeks that will need
    them (again if stale), as the daily DAG does for the day it ingested."""
    paths = paths or FeaturePaths.lake(settings)
    started = time.monotonic()
    default = paths == FeaturePaths.lake(settings)
    lock_names = ([FEATURES.name, DAILY.name, VENDOR_IDS.name] if default
                  else [paths.features, paths.daily, paths.vendor_ids])
    with lake_lock(settings, lock_names, "features"):
        partials_replaced = _ensure_tables(spark, settings, paths, publish=default)
        version = _current_version(spark, paths.transactions)
        # Empty new partials: every day a week needs is computed again.
        done = state.JobState() if partials_replaced else state.load(settings, paths.state_key)
        stale_days = _stale_days(spark, paths, done, version)
        weeks = {d: "requested" for d in as_of_dates}
        for week in _weeks_containing(spark, paths.features, stale_days):
            weeks.setdefault(week, "stale")
        needed = {day for week in weeks for day in aggregate.week_days(week)} | set(days)
        known = done.days - stale_days
        missing = sorted(needed - known)
        if missing:
            say(f"features: daily partials for {len(missing)} day(s) "
                f"({missing[0]} .. {missing[-1]}) from silver v{version}")
            # Opened only when read: a pinned version is a snapshot Delta builds
            # anew (~0.5 s), which a run that only combines partials never needs.
            snapshot = (spark.read.format("delta").option("versionAsOf", version)
                        .load(paths.transactions))
            ids = vendors.ids_for(spark, paths.vendor_ids, aggregate.rows_on(snapshot, missing))
            _write_partials(aggregate.daily_partials(snapshot, missing, ids), paths.daily, missing)
        # Stale days no week needs now are forgotten: computed again when needed.
        now = state.JobState(version, known | set(missing), set(done.weeks))
        state.save(settings, paths.state_key, now)
        result = FeaturesRun(version, sorted(d.isoformat() for d in stale_days),
                             [d.isoformat() for d in missing])
        created_at = datetime.now(UTC)
        partials = spark.read.format("delta").load(paths.daily)
        for week, reason in sorted(weeks.items()):
            users, changed = _replace_week(
                spark, settings, aggregate.weekly_features(partials, week, created_at),
                paths.features, week, written_before=week in now.weeks)
            say(f"features: week as of {week}: {users:,} user(s) "
                f"{'written' if changed else 'unchanged'} ({reason})")
            result.weeks.append(WeekResult(week.isoformat(), users, reason, changed))
        if not set(weeks) <= now.weeks:
            now.weeks |= set(weeks)
            state.save(settings, paths.state_key, now)
    result.seconds = time.monotonic() - started
    return result


def _ensure_tables(spark: SparkSession, settings: Settings, paths: FeaturePaths,
                   publish: bool) -> bool:
    """Create what is missing; True when the daily partials were replaced by
    an empty table of the current layout."""
    from delta.tables import DeltaTable

    if not DeltaTable.isDeltaTable(spark, paths.transactions):
        raise TxlakeError(f"silver transactions does not exist at {paths.transactions}: "
                          "run `txlake ingest` first")
    if lake.ensure(spark, settings, FEATURES, paths.features):
        say(f"lake: created features at {paths.features}")
        if publish:
            lake.publish(settings, FEATURES)
    partials_created = lake.ensure(spark, settings, DAILY, paths.daily)
    # Partials hold ids of the dictionary they were made with: its presence is
    # checked on every run (one listing), even on a warm driver that created it.
    if not storage.holds_objects(settings, f"{paths.vendor_ids}/_delta_log/"):
        lake.ensure(spark, settings, VENDOR_IDS, paths.vendor_ids, recheck=True)
        if not partials_created:
            _replace_partials(spark, paths.daily, "were made with another vendor dictionary")
            return True
    return _replace_old_partials(spark, paths.daily)


def _replace_old_partials(spark: SparkSession, path: str) -> bool:
    """Partials written by an older txlake (another layout, e.g. decimal sums
    before whole cents) are replaced, not migrated: they are derived data,
    computed again from silver for the days a week needs."""
    # Checked once per table and Spark application (the features driver runs
    # job after job): only this job writes the partials, in the current layout.
    seen = (spark.sparkContext.applicationId, path)
    if seen in _CURRENT_LAYOUT:
        return False
    found = [(f.name, f.dataType.simpleString()) for f in spark.read.format("delta").load(path).schema]
    _CURRENT_LAYOUT.add(seen)
    if found == list(DAILY.columns):
        return False
    _replace_partials(spark, path, "have an older layout")
    return True


def _replace_partials(spark: SparkSession, path: str, why: str) -> None:
    say(f"features: daily partials at {path} {why}; replacing them "
        "(each day is aggregated again from silver when a week needs it)")
    schema = ", ".join(f"`{name}` {type_}" for name, type_ in DAILY.columns)
    (spark.createDataFrame([], schema).write.format("delta").mode("overwrite")
     .option("overwriteSchema", "true").partitionBy(*DAILY.partitioned_by).save(path))


_CURRENT_LAYOUT: set[tuple[str, str]] = set()


def _current_version(spark: SparkSession, path: str) -> int:
    from delta.tables import DeltaTable

    return DeltaTable.forPath(spark, path).history(1).collect()[0]["version"]


def _stale_days(spark: SparkSession, paths: FeaturePaths, done: state.JobState,
                version: int) -> set[date]:
    if done.silver_version is None or not done.days:
        return set()
    touched = stale.touched_days(spark, paths.transactions, done.silver_version, version)
    if touched is stale.ALL_DAYS:
        say("features: silver's change feed does not reach back to the last run; "
            "recomputing every computed day")
        return set(done.days)
    return touched & done.days


def _weeks_containing(spark: SparkSession, features: str, days: set[date]) -> list[date]:
    """Weeks present in gold whose window contains one of `days`."""
    if not days:
        return []
    # A week as of W contains day d when d < W <= d + 7d.
    candidates = {d + timedelta(days=i) for d in days for i in range(1, 8)}
    present = (spark.read.format("delta").load(features)
               .where(F.col("as_of_date").isin(sorted(candidates)))
               .select("as_of_date").distinct().collect())
    return sorted(row["as_of_date"] for row in present)


def _in_list(column: str, days: list[date]) -> str:
    return f"{column} IN ({', '.join(repr(d.isoformat()) for d in days)})"


def _write_partials(partials: DataFrame, path: str, days: list[date]) -> None:
    """Replace the partitions of `days` (also those that now have no rows)."""
    (partials.write.format("delta").mode("overwrite")
     .option("replaceWhere", _in_list("day", days)).save(path))


def _fingerprints(new: DataFrame, old: DataFrame) -> dict[str, tuple[int, int]]:
    """(row count, order-free hash of every column but created_at) of both
    sides, in one Spark job rather than two."""
    columns = [c for c in new.columns if c != "created_at"]
    digest = F.xxhash64(*columns).cast("decimal(38,0)")  # no overflow in the sum
    both = (new.select(*columns).withColumn("_side", F.lit("new"))
            .unionByName(old.select(*columns).withColumn("_side", F.lit("old"))))
    out = {"new": (0, 0), "old": (0, 0)}
    for row in both.groupBy("_side").agg(F.count(F.lit(1)).alias("n"), F.sum(digest).alias("h")).collect():
        out[row["_side"]] = (row["n"], int(row["h"] or 0))
    return out


def _replace_week(spark: SparkSession, settings: Settings, week: DataFrame, path: str,
                  as_of: date, written_before: bool) -> tuple[int, bool]:
    """Write the week's rows in place of what gold holds for it; skip the commit
    when gold already holds exactly these values (a re-run changes nothing)."""
    # A week never written before (the usual weekly run) has nothing to compare
    # with: the rows are computed once, straight into the write.
    if not written_before:
        if storage.holds_objects(settings, _week_directory(path, as_of)):
            _overwrite_week(week, path, as_of)
        else:
            # No file of gold lies in the week's partition directory, so gold
            # has no row of the week: a blind append, which spares Delta
            # rebuilding gold's file list to find rows to replace (~0.5 s).
            week.write.format("delta").mode("append").save(path)
        return _rows_written(spark, path), True
    old = spark.read.format("delta").load(path).where(F.col("as_of_date") == as_of)
    week = week.cache()
    try:
        prints = _fingerprints(week, old)
        if prints["new"] == prints["old"]:
            return prints["new"][0], False
        _overwrite_week(week, path, as_of)
        return prints["new"][0], True
    finally:
        week.unpersist()


def _week_directory(path: str, as_of: date) -> str:
    """Where Delta puts the files of the week's partition. Gold is partitioned
    by `as_of_date` and created without random file prefixes (txlake's
    FEATURES table), so a file holding rows of the week lies under it."""
    return f"{path.rstrip('/')}/as_of_date={as_of.isoformat()}/"


def _overwrite_week(week: DataFrame, path: str, as_of: date) -> None:
    (week.write.format("delta").mode("overwrite")
     .option("replaceWhere", f"as_of_date = '{as_of.isoformat()}'").save(path))


def _rows_written(spark: SparkSession, path: str) -> int:
    """Rows the table's newest commit wrote (from the commit's own metrics)."""
    from delta.tables import DeltaTable

    [commit] = DeltaTable.forPath(spark, path).history(1).select("operationMetrics").collect()
    return int(commit["operationMetrics"]["numOutputRows"])
