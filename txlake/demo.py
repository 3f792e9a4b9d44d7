"""`txlake demo`: the whole flow end to end, through the same code the DAGs use.

The DAG tasks call the `txlake` command line, which is a thin layer over the
functions called here; the demo calls them in one process so one warm Spark
session serves every step instead of a JVM start per step.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import date, timedelta

from txlake.artifacts import say
from txlake.settings import Settings


@dataclass
class DemoReport:
    seconds: float = 0.0
    days: list[str] = field(default_factory=list)
    weeks: list[str] = field(default_factory=list)
    layers: dict[str, int] = field(default_factory=dict)
    reconcile: dict = field(default_factory=dict)
    quality: dict = field(default_factory=dict)
    top_spenders: list[tuple[str, str]] = field(default_factory=list)
    online_features: dict = field(default_factory=dict)
    urls: dict[str, str] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return bool(self.reconcile.get("clean")) and bool(self.quality.get("passed"))


def demo_days(days: int, today: date) -> list[date]:
    """The `days` whole UTC days before `today`, oldest first."""
    return [today - timedelta(days=n) for n in range(days, 0, -1)]


def demo_weeks(days: list[date]) -> list[date]:
    """As-of Mondays of the weeks the generated days fall in (the weekly DAG's
    logical dates): every Monday D with a generated day in [D - 7d, D)."""
    if not days:
        return []
    first_monday = days[0] + timedelta(days=(7 - days[0].weekday()) % 7 or 7)
    weeks = []
    week = first_monday
    while week - timedelta(days=7) <= days[-1]:
        weeks.append(week)
        week += timedelta(days=7)
    return weeks


class _Steps:
    """Wall time per step, for the report."""

    def __init__(self, report: DemoReport) -> None:
        self.report = report
        self.name = ""
        self.started = 0.0

    def __call__(self, name: str, message: str) -> _Steps:
        self.name = name
        say(f"demo: {message}")
        return self

    def __enter__(self) -> None:
        self.started = time.monotonic()

    def __exit__(self, *exc) -> None:
        spent = time.monotonic() - self.started
        self.report.timings[self.name] = round(self.report.timings.get(self.name, 0.0) + spent, 1)


def run(settings: Settings, *, days: int, customers: int, seed: int, per_day: int,
        down: bool, today: date | None = None) -> DemoReport:
    from txlake import features
    from txlake.cdc import ingest
    from txlake.cdc.reconcile import reconcile
    from txlake.feast import ops as feast
    from txlake.generate import jobs
    from txlake.lake.spark import session, stop_session
    from txlake.quality import run as quality
    from txlake.stack import manager

    started = time.monotonic()
    report = DemoReport()
    step = _Steps(report)
    generated = demo_days(days, today or date.today())
    weeks = demo_weeks(generated)
    with step("stack", "starting the stack (first run: downloads and builds, cached after) ..."):
        manager.up(settings)
    try:
        with step("generate", f"{customers:,} customers ..."):
            jobs.generate_customers(settings, count=customers, seed=seed)
        for day in generated:
            with step("generate", f"day {day}: {per_day:,} transactions with corrections, "
                                  "cancellations and late arrivals ..."):
                jobs.generate_transactions(settings, day=day, count=per_day, seed=seed,
                                           update_share=0.05, delete_share=0.01, late_share=0.02)
            with step("ingest", f"day {day}: ingest (waits for CDC to catch up, then applies) ..."):
                ingest.run(settings)
            report.days.append(day.isoformat())
        spark = session(settings, "txlake-demo")
        with step("features", f"weekly features as of {', '.join(map(str, weeks))} ..."):
            features.run(spark, settings, weeks)
        report.weeks = [w.isoformat() for w in weeks]
        with step("reconcile", "reconciling source and lake, row by row ..."):
            report.reconcile = reconcile(spark, settings, limit=5)
        # The quality checks run in a JVM of their own (Spark 3.5 for Deequ):
        # never hold two Spark drivers' memory at once.
        stop_session()
        with step("quality", "data-quality checks on silver and gold (Deequ) ..."):
            report.quality = quality.run(settings, "all", as_of=weeks[-1] if weeks else None).as_dict()
        if weeks:
            with step("feast", "Feast: apply the feature repo, materialize the weeks online ..."):
                feast.apply(settings)
                feast.materialize(settings, weeks[0] - timedelta(days=7), weeks[-1])
        report.layers = layer_rows(settings)
        if weeks:
            report.top_spenders = top_spenders(settings, weeks[-1])
            if report.top_spenders:
                report.online_features = feast.online(settings, [report.top_spenders[0][0]])[0]
        report.urls = service_urls(settings)
    finally:
        if down:
            say("demo: stopping the stack (--down) ...")
            manager.down(settings)
    report.seconds = time.monotonic() - started
    return report


def layer_rows(settings: Settings) -> dict[str, int]:
    """Rows of every lake table, bronze to gold, as Trino (and so the user) sees them."""
    from txlake.lake import catalog

    catalog.register_lake_tables(settings)  # a table Trino has not been told of yet
    rows = {}
    for table in catalog.LAKE_TABLES:
        if catalog.lake_table_exists(settings, table):
            ((rows[table],),) = catalog.query(
                settings, f"SELECT count(*) FROM {catalog.CATALOG}.{catalog.SCHEMA}.{table}")
    return rows


def top_spenders(settings: Settings, as_of: date) -> list[tuple[str, str]]:
    """The week's top 5 spenders, from the gold table through Trino."""
    from txlake.lake import catalog

    rows = catalog.query(settings, """
        SELECT user_id, CAST(total_amount_l1w AS varchar)
        FROM lakehouse.project.features
        WHERE as_of_date = ?
        ORDER BY total_amount_l1w DESC, user_id LIMIT 5""", [as_of])
    return [(r[0], r[1]) for r in rows]


def service_urls(settings: Settings) -> dict[str, str]:
    return {
        "Airflow UI": f"{settings.airflow_url}/",
        "Trino UI": f"http://{settings.trino_host}:{settings.trino_port}/ui/",
        "MinIO console": f"http://{settings.s3_host}:{settings.s3_console_port}/",
        # No Kafka web UI can be installed from the registries the native stack
        # uses (docs/ui-tour.md); Connect's REST API shows the connector and
        # its task, and `txlake stack status` the topics' consumer.
        "Kafka Connect REST": f"{settings.kafka_connect_url}/connectors?expand=status",
        "Kafka bootstrap": settings.kafka_bootstrap_servers,
        "PostgreSQL": f"postgresql://{settings.postgres_host}:{settings.postgres_port}/"
                      f"{settings.postgres_db}",
    }
