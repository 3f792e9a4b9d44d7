"""Fixtures for the Feast tests: two weeks of real gold features, made the way
production makes them (generate -> ingest -> `txlake features`), on weeks
later than any data already in the stack, so they are the newest rows online."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import pytest

from txlake.cdc import ingest
from txlake.feast import ops
from txlake.generate.jobs import generate_customers, generate_transactions
from txlake.lake import catalog

WEEKLY = ops.WEEKLY_FEATURES


@dataclass
class GoldWeeks:
    first: date  # Monday D-7
    second: date  # Monday D: the newest week of the lake
    rows: dict[tuple[str, date], dict]  # (user_id, as_of_date) -> gold row from Trino

    def users(self, week: date) -> list[str]:
        return sorted(u for u, d in self.rows if d == week)


def _next_free_monday(pg) -> date:
    """A Monday D with no source transaction after D - 21d: our weeks are the newest.
    From 2050 on: the features tests write private weeks up to about 2040."""
    [latest] = pg.execute("SELECT max(transaction_time) FROM transactions").fetchone()
    day = max(date(2050, 1, 3), (latest.date() if latest else date(2050, 1, 1)) + timedelta(days=21))
    return day + timedelta(days=(7 - day.weekday()) % 7)


def gold_rows(settings, weeks: list[date]) -> dict[tuple[str, date], dict]:
    cols = ", ".join(("user_id", "as_of_date", "feature_timestamp") + WEEKLY)
    days = ", ".join(f"DATE '{d.isoformat()}'" for d in weeks)
    result = catalog.query(settings, f"SELECT {cols} FROM lakehouse.project.features "
                                     f"WHERE as_of_date IN ({days})")
    names = cols.split(", ")
    return {(r[0], r[1]): dict(zip(names, r, strict=True)) for r in result}


@pytest.fixture(scope="session")
def gold(stack, spark) -> GoldWeeks:
    """Customers u000001..u000200 present, days D-10 and D-3 generated (300
    transactions each, no late arrivals), ingested, and weeks D-7 and D
    computed by txlake's features job."""
    import psycopg

    from txlake.features.job import compute_week

    with psycopg.connect(stack.postgres_dsn(), autocommit=True) as pg:
        second = _next_free_monday(pg)
    first = second - timedelta(days=7)
    generate_customers(stack, 200)  # adds only those missing: none after the demo
    for day, seed in ((first - timedelta(days=3), 11), (second - timedelta(days=3), 12)):
        generate_transactions(stack, day, 300, seed=seed, late_share=0.0)
    ingest.run(stack)
    compute_week(spark, stack, first)
    compute_week(spark, stack, second)
    rows = gold_rows(stack, [first, second])
    assert {d for _, d in rows} == {first, second}, "both weeks must have gold rows"
    return GoldWeeks(first, second, rows)


@pytest.fixture(scope="session")
def applied(stack) -> None:
    ops.apply(stack)
