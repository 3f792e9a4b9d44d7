"""`txlake quality`: run the checks in the quality runtime, record, judge.

1. Builds the job: which tables (by path, with the `--as-of` window as a
   filter) and which checks (checks.py).
2. Runs it in the quality runtime's interpreter (runtime.py): pydeequ on
   Spark 3.5, progress streamed to stderr, results as JSON on stdout.
3. Appends one row per check to `quality_results` under the table's lake lock.
4. The report's `failed_critical` lists the failed critical checks; the CLI
   exits 1 on any of them.
"""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from txlake.artifacts import say
from txlake.errors import TxlakeError
from txlake.lake.lock import lake_lock
from txlake.lake.spark import spark_conf
from txlake.lake.tables import LakeTable, publish
from txlake.quality import checks as catalog
from txlake.quality import results, runtime
from txlake.settings import Settings

# Run by file path: the runtime has no txlake installed, and needs none of it.
RUNNER = Path(__file__).with_name("deequ_runner.py")
# Settings the Spark of the quality runtime takes over from the lake's Spark.
_SHARED_CONF = ("spark.master", "spark.driver.memory", "spark.sql.session.timeZone",
                "spark.sql.shuffle.partitions", "spark.ui.showConsoleProgress")


class QualityError(TxlakeError):
    pass


@dataclass
class QualityReport:
    run_id: str
    layer: str
    as_of: str | None
    results: list[dict] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def failed_critical(self) -> list[dict]:
        return [r for r in self.results
                if r["severity"] == catalog.CRITICAL and r["status"] in ("failed", "error")]

    @property
    def passed(self) -> bool:
        return not self.failed_critical

    def as_dict(self) -> dict:
        out = asdict(self)
        out["seconds"] = round(self.seconds, 2)
        out["passed"] = self.passed
        out["failed_critical"] = [r["check"] for r in self.failed_critical]
        return out

    def summary(self) -> str:
        """One line naming the first failed critical check (the CLI's error)."""
        first = self.failed_critical[0]
        more = len(self.failed_critical) - 1
        detail = f"{first['description']}; {first['message']}".strip("; ")
        return (f"quality check {first['check']} failed on {first['table']} ({detail})"
                + (f"; {more} more critical check(s) failed" if more else ""))


def _tables(settings: Settings, layer: str, as_of: date | None,
            paths: dict[str, str] | None) -> dict[str, dict]:
    paths = paths or {}
    where: dict[str, str] = {}
    if as_of is not None:
        start = as_of - timedelta(days=7)
        # Silver: the week that as-of date covers; gold: that week's rows.
        where["transactions"] = (f"transaction_time >= TIMESTAMP '{start} 00:00:00 UTC' "
                                 f"AND transaction_time < TIMESTAMP '{as_of} 00:00:00 UTC'")
        where["features"] = f"as_of_date = DATE '{as_of}'"
    names = {"silver": ["transactions", "customers"], "gold": ["features"]}
    wanted = names["silver"] + names["gold"] if layer == "all" else names[layer]
    return {name: {"path": paths.get(name, settings.lake_path(name)), "where": where.get(name)}
            for name in wanted}


def _missing(settings: Settings, tables: dict[str, dict]) -> list[str]:
    from deltalake import DeltaTable

    options = results.storage_options(settings)
    return [name for name, t in tables.items()
            if not DeltaTable.is_deltatable(t["path"].replace("s3a://", "s3://", 1),
                                            storage_options=options)]


def _execute(settings: Settings, job: dict) -> list[dict]:
    env = runtime.ensure(settings.cache)
    job = dict(job, jars=list(env.jars))
    process = subprocess.run(
        [str(env.python), str(RUNNER)], input=json.dumps(job), capture_output=False,
        stdout=subprocess.PIPE, text=True, env=_runner_env(),
        timeout=settings.quality_timeout_seconds)
    lines = [line for line in process.stdout.splitlines() if line.startswith("{")]
    if process.returncode != 0 or not lines:
        raise QualityError(f"the quality runtime failed (exit {process.returncode}); "
                           "its error is printed above")
    return json.loads(lines[-1])["results"]


def _runner_env() -> dict[str, str]:
    import os

    # The lake runtime's pyspark settings must not leak into the other runtime.
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PYSPARK", "SPARK_HOME", "PYTHONPATH"))}
    env["SPARK_VERSION"] = "3.5"
    env["SPARK_LOCAL_IP"] = "127.0.0.1"
    return env


def run(settings: Settings, layer: str = "all", as_of: date | None = None,
        paths: dict[str, str] | None = None, results_uri: str | None = None) -> QualityReport:
    """Run the checks of `layer` and append their results. `paths` maps table
    names to other Delta paths (tests check a broken copy this way)."""
    if layer not in catalog.LAYERS:
        raise QualityError(f"--layer must be one of {', '.join(catalog.LAYERS)} (got {layer!r})")
    started = time.monotonic()
    report = QualityReport(uuid.uuid4().hex[:12], layer, as_of.isoformat() if as_of else None)
    tables = _tables(settings, layer, as_of, paths)
    missing = _missing(settings, tables)
    if missing:
        hint = "txlake features" if "features" in missing else "txlake ingest"
        raise QualityError(f"lake table {missing[0]} does not exist at {tables[missing[0]]['path']}; "
                           f"run `{hint}` first")
    specs = [c for c in catalog.checks_for(layer, settings.quality_max_amount) if c.table in tables]
    conf = spark_conf(settings)
    job = {"spark_conf": {k: v for k, v in conf.items()
                          if k in _SHARED_CONF or k.startswith("spark.hadoop.")},
           "tables": tables, "checks": [c.as_dict() for c in specs]}
    say(f"quality: {len(specs)} check(s) on {', '.join(tables)} (run {report.run_id})")
    outcome = {r["name"]: r for r in _execute(settings, job)}
    run_time = datetime.now(UTC)
    rows = []
    for spec in specs:
        got = outcome.get(spec.name, {"status": "error", "metric": None, "rows": None,
                                      "message": "the runner returned no result"})
        report.results.append({"check": spec.name, "table": spec.table, "severity": spec.severity,
                               "status": got["status"], "metric": got["metric"], "rows": got["rows"],
                               "message": got["message"], "description": spec.description})
        rows.append({"run_id": report.run_id, "run_time": run_time, "layer": layer, "as_of_date": as_of,
                     "table_name": spec.table, "check_name": spec.name, "severity": spec.severity,
                     "status": got["status"], "metric_value": got["metric"],
                     "rows_checked": got["rows"], "message": got["message"]})
    with lake_lock(settings, [results.TABLE], "quality"):
        created = results.append(settings, rows, results_uri)
    if created and results_uri is None:
        say(f"lake: created {results.TABLE} at {settings.lake_path(results.TABLE)}")
        publish(settings, LakeTable(results.TABLE, ()))
    report.seconds = time.monotonic() - started
    return report
