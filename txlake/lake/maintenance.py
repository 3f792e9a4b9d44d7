"""Table maintenance: OPTIMIZE (compact small files) and VACUUM (delete files
no version within the retention still needs).

Ingest's micro-batches and the weekly jobs leave many small files; OPTIMIZE
rewrites them into fewer large ones, and VACUUM then frees the storage of
files older than the retention. The retention is never below 7 days (168 h):
a reader or a time-travel query may still use an older version, and the
features job reads silver's change data feed since its previous run, whose
files VACUUM also removes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

from pyspark.sql import SparkSession

from txlake.errors import TxlakeError
from txlake.lake.lock import lake_lock
from txlake.settings import Settings

MIN_RETENTION_HOURS = 168
# Lake tables in the order they are maintained, as named in DESIGN.md, plus
# the job tables under _txlake/ (the features job's partials and vendor ids).
TABLES = ("transactions", "customers", "transactions_changelog", "customers_changelog",
          "cdc_dead_letters", "features", "quality_results")
INTERNAL = ("features_daily", "features_vendor_ids")


@dataclass
class TableMaintenance:
    table: str
    files_removed: int
    files_added: int
    vacuumed: int
    seconds: float


def _path(settings: Settings, name: str) -> str:
    if name in INTERNAL:
        return f"s3a://{settings.lake_bucket}/_txlake/{name}"
    return settings.lake_path(name)


def check_retention(retention_hours: float) -> None:
    if retention_hours < MIN_RETENTION_HOURS:
        raise TxlakeError(f"--retention-hours must be at least {MIN_RETENTION_HOURS} (7 days) so that "
                          f"readers and the features job's change feed keep what they need "
                          f"(got {retention_hours:g})")


def maintain(spark: SparkSession, settings: Settings, retention_hours: float = MIN_RETENTION_HOURS,
             tables: tuple[str, ...] = TABLES + INTERNAL,
             progress: Callable[[str], None] = print) -> list[TableMaintenance]:
    check_retention(retention_hours)
    done = []
    # Each table under its own lock: ingest waits for one table at a time, not for all.
    for name in tables:
        result = maintain_table(spark, settings, name, _path(settings, name), retention_hours)
        if result is None:
            progress(f"{name}: not created yet, skipped")
            continue
        progress(f"{name}: optimize {result.files_removed} -> {result.files_added} file(s), "
                 f"vacuum deleted {result.vacuumed} file(s), {result.seconds:.1f}s")
        done.append(result)
    return done


def maintain_table(spark: SparkSession, settings: Settings, name: str, path: str,
                   retention_hours: float) -> TableMaintenance | None:
    """OPTIMIZE then VACUUM one Delta table under the lake lock `name`; None if
    there is no table at `path`."""
    from delta.tables import DeltaTable

    check_retention(retention_hours)
    if not DeltaTable.isDeltaTable(spark, path):
        return None
    started = time.monotonic()
    with lake_lock(settings, [name], "maintain"):
        table = DeltaTable.forPath(spark, path)
        metrics = table.optimize().executeCompaction().first()["metrics"]
        spark.sql(f"VACUUM delta.`{path}` RETAIN {retention_hours:g} HOURS").collect()
        vacuumed = _files_vacuumed(table)
    return TableMaintenance(name, metrics["numFilesRemoved"], metrics["numFilesAdded"], vacuumed,
                            round(time.monotonic() - started, 2))


def _files_vacuumed(table) -> int:
    """Files the VACUUM just run deleted, from its `VACUUM END` commit (VACUUM
    itself only answers with the table's path)."""
    last = table.history(1).collect()[0]
    if last["operation"] != "VACUUM END":
        raise TxlakeError(f"maintain: expected a VACUUM END commit, found {last['operation']}")
    return int(last["operationMetrics"].get("numDeletedFiles", 0))


def as_dicts(results: list[TableMaintenance]) -> list[dict]:
    return [asdict(r) for r in results]
