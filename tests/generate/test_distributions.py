"""The generated data has realistic shapes (pure generation, no database)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import numpy as np
import pyarrow as pa
import pytest

from txlake.generate import categories as cats
from txlake.generate import customers as cust
from txlake.generate import transactions as tx
from txlake.generate.pools import vendor_pool

DAY = date(2026, 11, 20)
USERS = cust.user_ids(1, 5_000)


@pytest.fixture(scope="module")
def rows() -> dict[str, np.ndarray]:
    """200,000 inserts of one day (two chunks) as numpy columns."""
    spec = tx.DaySpec(DAY, 200_000, seed=11, late_share=0.05)
    batch = tx.DayBatch.build(spec, USERS, vendor_pool(11))
    table = pa.concat_tables(batch.chunk(i) for i in range(batch.chunks))
    out = {name: table[name].to_numpy(zero_copy_only=False) for name in table.column_names}
    out["cents"] = np.array([int(a * 100) for a in table["amount"].to_pylist()])
    index = {name: i for i, name in enumerate(vendor_pool(11).names)}
    out["category"] = vendor_pool(11).category[[index[v] for v in out["vendor"]]]
    return out


def test_user_activity_is_heavy_tailed(rows):
    _, counts = np.unique(rows["user_id"], return_counts=True)
    counts = np.sort(counts)[::-1]
    top_tenth = counts[: len(USERS) // 10].sum() / counts.sum()
    assert top_tenth > 0.35, f"busiest 10% of users make only {top_tenth:.0%} of transactions"
    assert np.median(counts) < counts.mean() * 0.8
    assert counts[0] > 10 * np.median(counts)


def test_user_activity_is_the_same_whoever_else_exists():
    few = tx.user_activity(USERS[:100], seed=3)
    many = tx.user_activity(USERS, seed=3)
    assert np.array_equal(few, many[:100])
    assert not np.array_equal(few, tx.user_activity(USERS[:100], seed=4))


def test_amounts_follow_each_categorys_log_normal(rows):
    for index, category in enumerate(cats.CATEGORIES):
        amounts = rows["cents"][rows["category"] == index] / 100
        assert len(amounts) > 1_000, category.name
        median = np.median(amounts)
        assert median == pytest.approx(category.median, rel=0.12), category.name
        if index != cats.CASH:
            spread = np.std(np.log(amounts))
            assert spread == pytest.approx(category.sigma, rel=0.1), category.name


def test_cash_comes_in_whole_notes_and_only_from_atms(rows):
    cash = rows["category"] == cats.CASH
    assert np.all(rows["cents"][cash] % (cats.CASH_STEP * 100) == 0)
    assert np.all(rows["source"][cash] == "atm")
    assert not np.any(rows["source"][~cash] == "atm")


def test_amounts_fit_numeric_12_2(rows):
    assert rows["cents"].min() >= 1
    assert rows["cents"].max() <= cats.MAX_AMOUNT_CENTS < 10**12


def test_channel_shares_are_realistic(rows):
    values, counts = np.unique(rows["source"], return_counts=True)
    share = dict(zip(values.tolist(), (counts / counts.sum()).tolist(), strict=True))
    assert set(share) == set(cats.CHANNELS)
    assert share["in_store"] == max(share.values())
    assert 0.35 < share["in_store"] < 0.55
    assert 0.15 < share["mobile"] < 0.35
    assert 0.12 < share["online"] < 0.30
    assert 0.05 < share["atm"] < 0.11


def test_vendor_popularity_is_skewed_within_a_category(rows):
    grocery = rows["vendor"][rows["category"] == 0]
    _, counts = np.unique(grocery, return_counts=True)
    counts = np.sort(counts)[::-1]
    assert counts[0] > 10 * counts[len(counts) // 2]


def test_times_follow_a_daily_rhythm_in_utc(rows):
    times = rows["transaction_time"]
    on_day = times[times >= np.datetime64(DAY)]
    hours = ((on_day - np.datetime64(DAY)) // np.timedelta64(1, "h")).astype(int)
    per_hour = np.bincount(hours, minlength=24)
    assert hours.max() < 24
    assert per_hour[18:21].mean() > 5 * per_hour[2:5].mean()
    assert per_hour[12] > 3 * per_hour[3]


def test_late_arrivals_happened_up_to_a_week_earlier_and_arrive_on_the_day(rows):
    times, arrived = rows["transaction_time"], rows["updated_at"]
    late = times < np.datetime64(DAY)
    assert late.mean() == pytest.approx(0.05, abs=0.005)
    assert times[late].min() >= np.datetime64(DAY) - np.timedelta64(tx.LATE_WINDOW_DAYS, "D")
    days_back = (np.datetime64(DAY) - times[late]) // np.timedelta64(1, "D") + 1
    assert np.mean(days_back == 1) > 0.4  # most are a day late
    assert np.all(arrived[late] >= np.datetime64(DAY))
    assert np.all(arrived < np.datetime64(DAY) + np.timedelta64(1, "D"))
    assert np.array_equal(arrived[~late], times[~late])


def test_ids_are_unique_and_follow_arrival_order(rows):
    ids = rows["transaction_id"]
    assert len(set(ids)) == len(ids)
    assert ids[0] == "t20261120-000001" and ids[-1] == "t20261120-200000"
    assert np.all(np.diff(rows["updated_at"]) >= np.timedelta64(0, "s"))


def test_ids_stay_unique_past_six_digits():
    seqs = np.array([999_999, 1_000_000, 10_000_000])
    ids = tx.transaction_ids(DAY, seqs).to_pylist()
    assert ids == ["t20261120-999999", "t20261120-1000000", "t20261120-10000000"]
    assert tx.transaction_id(DAY, 1_000_000) == ids[1]


def test_customers_look_like_people():
    table = cust.customers(5, 1, 20_000)
    ages = table["age"].to_numpy()
    assert ages.min() >= 18 and ages.max() <= 90
    assert 35 < np.median(ages) < 48
    genders = table["gender"].to_numpy(zero_copy_only=False)
    assert set(genders) == set(cust.GENDERS)
    assert np.mean(genders == "X") < 0.05
    names = table["name"].to_pylist()
    assert all(len(n.split(" ")) >= 2 for n in names)
    assert len(set(names)) > 15_000
    locations = table["location"].to_numpy(zero_copy_only=False)
    _, counts = np.unique(locations, return_counts=True)
    assert counts.max() > 20 * np.median(counts)  # a few big cities
    days = table["day_start"].to_pylist()
    assert min(days) >= cust.JOINED_FROM and max(days) <= cust.JOINED_UNTIL
    updated = table["updated_at"].to_pylist()
    assert all(u.date() == d for u, d in zip(updated, days, strict=True))


def test_change_plan_corrects_amounts_or_fixes_vendors():
    pool = vendor_pool(2)
    grocery = pool.names[0]
    old = [(f"t20261120-{i:06d}", 1_000 + i, grocery, datetime(2026, 11, 20, 9, 0, tzinfo=UTC))
           for i in range(2_000)]
    plan = tx.plan_updates(np.random.default_rng(1), DAY, old, pool)
    amount_fixes = [p for p, o in zip(plan, old, strict=True) if p.amount_cents != o[1]]
    vendor_fixes = [p for p, o in zip(plan, old, strict=True) if p.vendor != o[2]]
    assert len(amount_fixes) + len(vendor_fixes) == len(old)  # each row changes one thing
    assert len(amount_fixes) / len(old) == pytest.approx(tx.AMOUNT_CORRECTION_SHARE, abs=0.04)
    start, stop = pool.bounds[0]
    assert all(start <= pool.names.index(p.vendor) < stop for p in vendor_fixes)
    assert all(p.updated_at > o[3] for p, o in zip(plan, old, strict=True))


def test_own_picks_are_disjoint_and_spare_a_row():
    rng = np.random.default_rng(0)
    updates, deletes = tx.pick_own_rows(rng, 10, 3, 20)
    assert len(updates) == 3 and len(deletes) == 6
    assert not set(updates) & set(deletes)
    assert set(updates) | set(deletes) <= set(range(1, 11))
