"""Fixtures for the features tests: a private week of source data, one Spark session."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

import pytest

from txlake.features.aggregate import midnight
from txlake.quality.checks import CHANNELS

VENDORS = ("Acme Foods", "Bolt Taxi", "Cinema City", "Delta Fuel", "Eden Books", "Fjord Travel")


def free_monday(conn, start: date) -> date:
    """A Monday D from `start` on such that the source has no transaction in
    [D - 14d, D + 8d): two weeks only this test writes to, with their neighbours."""
    day = start + timedelta(days=(7 - start.weekday()) % 7)
    while conn.execute("SELECT EXISTS (SELECT 1 FROM transactions WHERE transaction_time >= %s "
                       "AND transaction_time < %s)",
                       (midnight(day - timedelta(days=14)), midnight(day + timedelta(days=8)))).fetchone()[0]:
        day += timedelta(days=28)
    return day


@dataclass
class Weeks:
    """Two consecutive weeks of test data: as of `first` and as of `second`."""

    tag: str
    first: date
    second: date
    users: list[str]
    special: dict[str, str] = field(default_factory=dict)  # role -> user_id
    rows: dict[str, str] = field(default_factory=dict)  # role -> transaction_id


def insert_transactions(conn, rows: list[tuple]) -> None:
    with conn.cursor() as cur:
        cur.executemany("INSERT INTO transactions (transaction_id, user_id, amount, vendor, source, "
                        "transaction_time, updated_at) VALUES (%s, %s, %s, %s, %s, %s, now())", rows)


@pytest.fixture(scope="module")
def weeks(stack, spark, ingest_now) -> Weeks:
    """~300 random transactions of 20 users over two weeks, plus one user per edge case:
    a row at D-7d 00:00:00 (in), one at D 00:00:00 (out of the first week), one
    deleted, one updated after insert; then ingested."""
    import psycopg

    tag = uuid.uuid4().hex[:8]
    rnd = random.Random(tag)
    with psycopg.connect(stack.postgres_dsn(), autocommit=True) as conn:
        first = free_monday(conn, date(2033, 1, 3) + timedelta(days=7 * rnd.randrange(0, 400)))
        second = first + timedelta(days=7)
        start = first - timedelta(days=7)
        users = [f"fx{tag}-u{i:02d}" for i in range(20)]
        special = {role: f"fx{tag}-{role}" for role in
                   ("at_start", "at_end", "deleted", "updated", "late", "just_before_end")}
        with conn.cursor() as cur:
            cur.executemany("INSERT INTO customers (user_id, name, age, updated_at) "
                            "VALUES (%s, %s, 40, now())",
                            [(u, f"Test {u}") for u in users + list(special.values())])
        rows = []
        for i in range(300):
            moment = midnight(start) + timedelta(seconds=rnd.randrange(14 * 86400))
            rows.append((f"fx{tag}-t{i:04d}", rnd.choice(users),
                         Decimal(rnd.randrange(1, 50_000)) / 100, rnd.choice(VENDORS),
                         rnd.choice(CHANNELS), moment))
        ids = {role: f"fx{tag}-{role}-t" for role in special}
        edge = {
            "at_start": midnight(start),                       # D-7d 00:00:00: in week one
            "at_end": midnight(first),                         # D 00:00:00: week two, not one
            "just_before_end": midnight(first) - timedelta(microseconds=1),
            "deleted": midnight(start) + timedelta(days=2),
            "updated": midnight(start) + timedelta(days=3),
            "late": midnight(start) + timedelta(days=4),
        }
        for role, moment in edge.items():
            rows.append((ids[role], special[role], Decimal("10.00"), "Edge Shop", "online", moment))
        insert_transactions(conn, rows)
        conn.execute("DELETE FROM transactions WHERE transaction_id = %s", (ids["deleted"],))
        conn.execute("UPDATE transactions SET amount = 999.99, updated_at = now() "
                     "WHERE transaction_id = %s", (ids["updated"],))
    ingest_now()
    return Weeks(tag, first, second, users, special, ids)


def features_sql(as_of: date, tag: str) -> tuple[str, tuple]:
    """DESIGN.md's definition, straight over the source tables."""
    return ("SELECT user_id, count(*), sum(amount), avg(amount), min(amount), max(amount), "
            "count(DISTINCT vendor), count(DISTINCT source) FROM transactions "
            "WHERE transaction_time >= %s AND transaction_time < %s AND user_id LIKE %s "
            "GROUP BY user_id ORDER BY user_id",
            (midnight(as_of - timedelta(days=7)), midnight(as_of), f"fx{tag}-%"))


def gold_rows(spark, settings, as_of: date, tag: str) -> list:
    from pyspark.sql import functions as F

    return (spark.read.format("delta").load(settings.lake_path("features"))
            .where((F.col("as_of_date") == as_of) & F.col("user_id").startswith(f"fx{tag}-"))
            .orderBy("user_id").collect())
