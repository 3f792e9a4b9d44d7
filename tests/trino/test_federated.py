"""After `txlake ingest`, Trino sees the same transactions in the lake as in the
source: equal counts and no row on either side that the other lacks.

This is the check a user can run by hand (scripts/sql/source_vs_lake.sql); the
lake table must be in Trino without any manual step (ingest registers it).
"""

from __future__ import annotations

import uuid

import pytest

pytestmark = pytest.mark.stack

# The source's columns; silver adds its own bookkeeping (_lsn, _ingested_at).
# Trino reads Delta timestamps at millisecond precision (truncated): the source
# side is truncated alike (see test_registration.py).
SOURCE_TX = """
    SELECT transaction_id, user_id, amount, vendor, source,
           date_trunc('millisecond', transaction_time) AS transaction_time,
           date_trunc('millisecond', updated_at) AS updated_at
    FROM source.public.transactions"""
LAKE_TX = """
    SELECT transaction_id, user_id, amount, vendor, source,
           CAST(transaction_time AS timestamp(6) with time zone) AS transaction_time,
           CAST(updated_at AS timestamp(6) with time zone) AS updated_at
    FROM lakehouse.project.transactions"""


@pytest.fixture
def ingest(txlake_cli):
    """`txlake ingest`, which must succeed."""
    def run() -> None:
        result = txlake_cli("ingest")
        assert result.returncode == 0, result.stderr[-3000:]

    return run


@pytest.fixture
def changed_source(pg):
    """A few inserts, an update and a delete in the source, as other tools make them.
    Timestamps carry microseconds on purpose."""
    tag = uuid.uuid4().hex[:10]
    user = f"trino-fed-{tag}"
    ids = [f"trino-fed-{tag}-{i}" for i in range(3)]
    pg.execute("INSERT INTO customers (user_id, name, age, gender, location, occupation, day_start,"
               " updated_at) VALUES (%s, 'Federated Check', 41, 'F', 'Lisbon', 'Analyst',"
               " DATE '2026-11-01', now())", (user,))
    for i, key in enumerate(ids):
        pg.execute("INSERT INTO transactions (transaction_id, user_id, amount, vendor, source,"
                   " transaction_time, updated_at) VALUES (%s, %s, %s, 'Trino Test Vendor',"
                   " 'online', TIMESTAMPTZ '2026-11-20 10:00:00.123456+00' + %s * INTERVAL '1 hour',"
                   " now())", (key, user, 10 + i, i))
    pg.execute("UPDATE transactions SET amount = 99.99, updated_at = now() WHERE transaction_id = %s",
               (ids[1],))
    pg.execute("DELETE FROM transactions WHERE transaction_id = %s", (ids[2],))
    return ids


def test_lake_equals_source_after_ingest(changed_source, trino_query, ingest):
    ingest()

    [[source_rows]] = trino_query("SELECT count(*) FROM source.public.transactions")
    [[lake_rows]] = trino_query("SELECT count(*) FROM lakehouse.project.transactions")
    only_in_source = trino_query(f"SELECT * FROM ({SOURCE_TX} EXCEPT {LAKE_TX}) LIMIT 5")
    only_in_lake = trino_query(f"SELECT * FROM ({LAKE_TX} EXCEPT {SOURCE_TX}) LIMIT 5")

    assert lake_rows == source_rows
    assert only_in_source == []
    assert only_in_lake == []
    # The changes themselves went through: inserted, corrected, cancelled.
    first, corrected, cancelled = changed_source
    rows = dict(trino_query("SELECT transaction_id, CAST(amount AS varchar) FROM "
                            "lakehouse.project.transactions WHERE transaction_id IN "
                            f"('{first}', '{corrected}', '{cancelled}')"))
    assert rows == {first: "10.00", corrected: "99.99"}


def test_the_user_script_reports_no_difference_after_ingest(changed_source, trino_query,
                                                           sql_statements, ingest):
    from txlake.settings import project_root

    ingest()
    (statement,) = sql_statements(project_root() / "scripts" / "sql" / "source_vs_lake.sql")

    for table, source_rows, lake_rows, only_in_source, only_in_lake in trino_query(statement):
        assert (table, lake_rows, only_in_source, only_in_lake) == (table, source_rows, 0, 0)
