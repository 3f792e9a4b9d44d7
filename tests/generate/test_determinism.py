"""Same seed and arguments, same rows; a different seed or day, different rows."""

from __future__ import annotations

from datetime import date

import numpy as np
import pyarrow as pa

from txlake.generate import customers as cust
from txlake.generate import transactions as tx
from txlake.generate.pools import people_pools, vendor_pool

DAY = date(2026, 11, 20)
USERS = cust.user_ids(1, 3_000)


def day_rows(seed: int = 1, day: date = DAY, count: int = 150_000, late: float = 0.02,
             users: list[str] = USERS) -> pa.Table:
    batch = tx.DayBatch.build(tx.DaySpec(day, count, seed, late), users, vendor_pool(seed))
    return pa.concat_tables(batch.chunk(i) for i in range(batch.chunks))


def test_same_seed_same_transactions():
    assert day_rows(seed=1).equals(day_rows(seed=1))


def test_another_seed_or_day_gives_other_transactions():
    base = day_rows(seed=1, count=1_000)
    assert not base.equals(day_rows(seed=2, count=1_000))
    other_day = day_rows(seed=1, day=date(2026, 11, 21), count=1_000)
    assert other_day["amount"] != base["amount"]
    assert other_day["transaction_id"][0].as_py() == "t20261121-000001"


def test_chunks_do_not_depend_on_build_order():
    batch = tx.DayBatch.build(tx.DaySpec(DAY, 250_000, 1, 0.02), USERS, vendor_pool(1))
    forward = [batch.chunk(i) for i in range(batch.chunks)]
    backward = [batch.chunk(i) for i in reversed(range(batch.chunks))][::-1]
    assert all(a.equals(b) for a, b in zip(forward, backward, strict=True))


def test_pools_are_seeded():
    people_pools.cache_clear()
    vendor_pool.cache_clear()
    first = (people_pools(9), vendor_pool(9).names)
    people_pools.cache_clear()
    vendor_pool.cache_clear()
    assert (people_pools(9), vendor_pool(9).names) == first
    assert vendor_pool(10).names != first[1]


def test_customers_are_the_same_whatever_the_count():
    small = cust.customers(3, 1, 12_345)
    large = cust.customers(3, 1, 30_000)
    assert large.slice(0, 12_345).equals(small)
    assert cust.customers(3, 12_346, 30_000).equals(large.slice(12_345))
    assert not cust.customers(4, 1, 100).equals(small.slice(0, 100))


def test_change_plans_repeat():
    rows = [(f"t20261120-{i:06d}", 500 + i, vendor_pool(1).names[i % 50], None)
            for i in range(1, 300)]
    first = tx.plan_updates(tx.dml_rng(1, DAY), DAY, rows, vendor_pool(1))
    again = tx.plan_updates(tx.dml_rng(1, DAY), DAY, rows, vendor_pool(1))
    other = tx.plan_updates(tx.dml_rng(2, DAY), DAY, rows, vendor_pool(1))
    assert first == again
    assert first != other
    picks = tx.pick_own_rows(tx.dml_rng(1, DAY), 10_000, 500, 100)
    again_picks = tx.pick_own_rows(tx.dml_rng(1, DAY), 10_000, 500, 100)
    assert all(np.array_equal(a, b) for a, b in zip(picks, again_picks, strict=True))
