"""Loading into a real PostgreSQL: COPY, the re-run rules, one-line failures."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from txlake.errors import TxlakeError
from txlake.generate import customers as cust
from txlake.generate import jobs, load

from .helpers import db_transactions, generated_day, snapshot

DAY = date(2026, 11, 20)


def no_changes(db, day=DAY, count=5_000, seed=1, late_share=0.02):
    return jobs.generate_transactions(db, day, count, seed, update_share=0.0,
                                      delete_share=0.0, late_share=late_share)


def test_customers_are_copied_and_a_rerun_adds_only_new_ones(db, pg):
    first = jobs.generate_customers(db, 12_000, seed=5)
    assert (first.inserted, first.existing) == (12_000, 0)
    rows = pg.execute("SELECT user_id, name, age, gender, location, occupation, day_start, "
                      "updated_at FROM customers ORDER BY user_id").fetchall()
    expected = cust.customers(5, 1, 12_000).to_pylist()
    assert [r[0] for r in rows] == [e["user_id"] for e in expected]
    for got, want in zip(rows[::997], expected[::997], strict=True):
        assert got[:7] == tuple(want[c] for c in cust.COLUMNS[:7])
        assert got[7] == want["updated_at"].replace(tzinfo=UTC)

    again = jobs.generate_customers(db, 12_000, seed=5)
    assert (again.inserted, again.existing) == (0, 12_000)
    more = jobs.generate_customers(db, 15_000, seed=5)
    assert (more.inserted, more.existing) == (3_000, 12_000)
    after = pg.execute("SELECT user_id, name, age, gender, location, occupation, day_start, "
                       "updated_at FROM customers ORDER BY user_id").fetchall()
    assert after[:12_000] == rows
    assert after[-1][0] == "u015000"


def test_a_day_holds_exactly_the_generated_rows(db, pg):
    jobs.generate_customers(db, 2_000, seed=1)
    result = no_changes(db, late_share=0.1)
    assert result.status == "created" and result.inserted == 5_000
    users = [r[0] for r in pg.execute("SELECT user_id FROM customers")]
    assert db_transactions(pg) == generated_day(users, DAY, 5_000, 1, 0.1)
    assert result.late_arrivals == pg.execute(
        "SELECT count(*) FROM transactions WHERE transaction_time < '2026-11-20T00:00Z'"
    ).fetchone()[0] > 300
    # Money keeps exactly two decimals; times are instants of the day in UTC.
    assert pg.execute("SELECT min(scale(amount)), max(scale(amount)) FROM transactions"
                      ).fetchone() == (2, 2)
    low, high = pg.execute(
        "SELECT min(updated_at), max(updated_at) FROM transactions").fetchone()
    start = datetime(2026, 11, 20, tzinfo=UTC)
    assert start <= low and high < start + timedelta(days=1)


def test_rerunning_a_day_writes_nothing(db, pg):
    jobs.generate_customers(db, 500, seed=1)
    jobs.generate_transactions(db, DAY, 3_000, 1, 0.1, 0.05, 0.02)
    before = snapshot(pg)
    again = jobs.generate_transactions(db, DAY, 3_000, 1, 0.1, 0.05, 0.02)
    assert again.status == "skipped" and again.inserted == again.updated == again.deleted == 0
    bigger = jobs.generate_transactions(db, DAY, 9_000, 2, 0.1, 0.05, 0.02)
    assert bigger.status == "skipped"
    assert snapshot(pg) == before


def test_same_seed_same_rows_on_an_empty_database(db, pg):
    def run():
        jobs.generate_customers(db, 800, seed=3)
        for offset in range(3):
            jobs.generate_transactions(db, DAY + timedelta(days=offset), 4_000, 3,
                                       0.08, 0.03, 0.05)
        return snapshot(pg)

    first = run()
    pg.execute("TRUNCATE transactions, customers")
    assert run() == first


def test_bulk_path_checks_the_foreign_key_once_and_keeps_it(db, pg, monkeypatch):
    fk = ("SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
          "WHERE conrelid = 'transactions'::regclass AND contype = 'f'")
    key_before = pg.execute(fk).fetchall()
    jobs.generate_customers(db, 800, seed=3)
    no_changes(db, count=20_000)
    per_row = snapshot(pg)
    pg.execute("TRUNCATE transactions")
    monkeypatch.setattr(load, "BULK_FK_MIN_ROWS", 1)
    assert load.bulk_fk_worthwhile(pg, "transactions", 20_000)
    no_changes(db, count=20_000)
    assert snapshot(pg) == per_row
    assert pg.execute(fk).fetchall() == key_before != []


def test_the_foreign_key_still_guards_the_bulk_path(db, pg, monkeypatch):
    """A row that breaks the key fails the re-created key, and the whole run."""
    jobs.generate_customers(db, 100, seed=3)
    monkeypatch.setattr(load, "BULK_FK_MIN_ROWS", 1)
    real_copy = load.copy_chunks

    def copy_then_orphan(conn, *args, **kwargs):
        rows = real_copy(conn, *args, **kwargs)
        conn.execute("INSERT INTO transactions (transaction_id, user_id) VALUES ('x1', 'nobody')")
        return rows

    monkeypatch.setattr(load, "copy_chunks", copy_then_orphan)
    with pytest.raises(TxlakeError, match="foreign key"):
        no_changes(db, count=1_000)
    assert pg.execute("SELECT count(*) FROM transactions").fetchone()[0] == 0


def test_transactions_before_any_customer_is_a_one_line_error(db):
    with pytest.raises(TxlakeError) as error:
        no_changes(db)
    assert "no customers" in str(error.value) and "\n" not in str(error.value)


def test_missing_tables_are_a_one_line_error(stack, bare_schema):
    with pytest.raises(TxlakeError) as error:
        jobs.generate_customers(stack, 10)
    message = str(error.value)
    assert "does not exist" in message and "source_schema.sql" in message
    assert "\n" not in message
