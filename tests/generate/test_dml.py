"""After the inserts: corrections and cancellations, on the day's rows and earlier days'."""

from __future__ import annotations

from datetime import UTC, date, datetime

from txlake.generate import jobs
from txlake.generate.pools import vendor_pool

from .helpers import db_transactions, generated_day

DAY1 = date(2026, 11, 20)
DAY2 = date(2026, 11, 21)
SEED = 4


def changed(before: dict, after: dict) -> dict[str, tuple[tuple, tuple]]:
    return {tid: (row, after[tid]) for tid, row in before.items()
            if tid in after and after[tid] != row}


def assert_corrections(pairs, not_before: datetime) -> None:
    """Each update fixes the amount or moves to a vendor of the same category."""
    pool = vendor_pool(SEED)
    index = {name: i for i, name in enumerate(pool.names)}
    for old, new in pairs:
        assert new[0] == old[0] and new[3:5] == old[3:5]  # user, channel, time kept
        assert (new[1] != old[1]) != (new[2] != old[2])  # exactly one of amount, vendor
        if new[2] != old[2]:
            assert pool.category[index[new[2]]] == pool.category[index[old[2]]]
        assert new[5] > old[5] and new[5] >= not_before  # updated_at moves forward


def test_first_day_changes_only_its_own_rows(db, pg):
    jobs.generate_customers(db, 1_000, seed=SEED)
    result = jobs.generate_transactions(db, DAY1, 4_000, SEED, update_share=0.1,
                                        delete_share=0.05, late_share=0.02)
    assert (result.updated, result.deleted) == (400, 200)
    assert (result.updated_earlier, result.deleted_earlier) == (0, 0)
    users = [r[0] for r in pg.execute("SELECT user_id FROM customers")]
    inserted = generated_day(users, DAY1, 4_000, SEED, 0.02)
    now = db_transactions(pg)
    assert set(now) <= set(inserted) and len(inserted) - len(now) == 200
    pairs = changed(inserted, now)
    assert len(pairs) == 400
    assert_corrections(pairs.values(), datetime(2026, 11, 20, tzinfo=UTC))


def test_late_changes_reach_earlier_days(db, pg):
    jobs.generate_customers(db, 1_000, seed=SEED)
    jobs.generate_transactions(db, DAY1, 4_000, SEED, 0.0, 0.0, 0.02)
    day1 = db_transactions(pg)
    result = jobs.generate_transactions(db, DAY2, 4_000, SEED, update_share=0.1,
                                        delete_share=0.05, late_share=0.02)
    assert (result.updated, result.deleted) == (400, 200)
    assert (result.updated_earlier, result.deleted_earlier) == (120, 60)

    now = db_transactions(pg)
    day1_now = {tid: row for tid, row in now.items() if tid.startswith("t20261120-")}
    assert len(day1) - len(day1_now) == 60
    pairs = changed(day1, day1_now)
    assert len(pairs) == 120
    assert_corrections(pairs.values(), datetime(2026, 11, 21, tzinfo=UTC))

    users = [r[0] for r in pg.execute("SELECT user_id FROM customers")]
    day2 = generated_day(users, DAY2, 4_000, SEED, 0.02)
    day2_now = {tid: row for tid, row in now.items() if tid.startswith("t20261121-")}
    assert len(day2) - len(day2_now) == 140
    assert len(changed(day2, day2_now)) == 280


def test_late_arrivals_carry_the_days_ids(db, pg):
    jobs.generate_customers(db, 300, seed=SEED)
    result = jobs.generate_transactions(db, DAY2, 3_000, SEED, 0.0, 0.0, late_share=0.25)
    late = pg.execute(
        "SELECT count(*), min(transaction_time), min(updated_at) FROM transactions "
        "WHERE transaction_time < '2026-11-21T00:00Z'"
    ).fetchone()
    assert late[0] == result.late_arrivals
    assert 600 < late[0] < 900
    assert late[1] >= datetime(2026, 11, 14, tzinfo=UTC)
    assert late[2] >= datetime(2026, 11, 21, tzinfo=UTC)  # they arrived on the day


def test_shares_of_zero_and_one(db, pg):
    jobs.generate_customers(db, 50, seed=SEED)
    everything = jobs.generate_transactions(db, DAY1, 100, SEED, 0.0, 1.0, 1.0)
    assert everything.late_arrivals == 100
    # No earlier day to cancel, so all deletes hit the day's own rows, but one
    # row always survives: a re-run must still see the day as generated.
    assert (everything.deleted, everything.deleted_earlier) == (99, 0)
    assert pg.execute("SELECT count(*) FROM transactions").fetchone()[0] == 1
    assert jobs.generate_transactions(db, DAY1, 100, SEED, 0.0, 1.0, 1.0).status == "skipped"
    nothing = jobs.generate_transactions(db, DAY2, 100, SEED, 0.0, 0.0, 0.0)
    assert nothing.updated == nothing.deleted == nothing.late_arrivals == 0
    assert pg.execute("SELECT count(*) FROM transactions").fetchone()[0] == 101
