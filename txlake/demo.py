"""`txlake demo`: the whole flow end to end, through the same code the DAGs use."""

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
    layers: dict[str, int] = field(default_factory=dict)
    reconcile: dict = field(default_factory=dict)
    top_spenders: list[tuple[str, str]] = field(default_factory=list)
    urls: dict[str, str] = field(default_factory=dict)


def _days(days: int, end: date) -> list[date]:
    return [end - timedelta(days=n) for n in range(days, 0, -1)]


def run(settings: Settings, *, days: int, customers: int, seed: int, per_day: int,
        down: bool) -> DemoReport:
    from txlake.cdc import ingest
    from txlake.cdc.reconcile import reconcile
    from txlake.generate import jobs
    from txlake.lake import tables as lake
    from txlake.lake.spark import session
    from txlake.stack import manager

    started = time.monotonic()
    report = DemoReport()
    say("demo: starting the stack ...")
    manager.up(settings)
    try:
        say(f"demo: {customers:,} customers ...")
        jobs.generate_customers(settings, count=customers, seed=seed)
        for day in _days(days, date.today()):
            say(f"demo: day {day}: {per_day:,} transactions with corrections, cancellations "
                "and late arrivals, then ingest ...")
            jobs.generate_transactions(settings, day=day, count=per_day, seed=seed,
                                       update_share=0.05, delete_share=0.01, late_share=0.02)
            ingest.run(settings)
            report.days.append(day.isoformat())
        spark = session(settings, "txlake-demo")
        for table in lake.INGEST_TABLES:
            if not table.internal:
                report.layers[table.name] = spark.read.format("delta").load(
                    table.path(settings)).count()
        say("demo: reconciling source and lake ...")
        report.reconcile = reconcile(spark, settings, limit=5)
        report.top_spenders = _top_spenders(settings)
        report.urls = service_urls(settings)
    finally:
        if down:
            manager.down(settings)
    report.seconds = time.monotonic() - started
    return report


def _top_spenders(settings: Settings) -> list[tuple[str, str]]:
    from txlake.lake import catalog

    rows = catalog.query(settings, """
        SELECT user_id, CAST(sum(amount) AS varchar) AS spent
        FROM lakehouse.project.transactions
        WHERE transaction_time >= current_timestamp - INTERVAL '7' DAY
        GROUP BY user_id ORDER BY sum(amount) DESC, user_id LIMIT 5""")
    return [(r[0], r[1]) for r in rows]


def service_urls(settings: Settings) -> dict[str, str]:
    return {
        "Trino UI": f"http://{settings.trino_host}:{settings.trino_port}/ui/",
        "MinIO console": f"http://{settings.s3_host}:{settings.s3_console_port}/",
        "Kafka Connect REST": f"{settings.kafka_connect_url}/connectors",
        "Kafka": settings.kafka_bootstrap_servers,
        "PostgreSQL": f"postgresql://{settings.postgres_host}:{settings.postgres_port}/"
                      f"{settings.postgres_db}",
    }
