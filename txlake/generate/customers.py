"""Customer rows: pure generation, no database.

Customers are generated in fixed blocks, each from its own random stream
keyed by (seed, block). Customer u000123 therefore has the same attributes
whatever --count was asked for, which is what lets a re-run with a larger
count add only the new customers.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pyarrow as pa

from txlake.generate.pools import people_pools, zipf_weights

BLOCK = 10_000
# Customers joined over three years; fixed dates, so the rows do not depend
# on when the generator runs.
JOINED_FROM = date(2023, 1, 1)
JOINED_UNTIL = date(2025, 12, 31)
GENDERS = ("F", "M", "X")
GENDER_SHARES = (0.49, 0.49, 0.02)
_STREAM = 0x637573  # "cus": keeps customer streams apart from transaction streams

COLUMNS = ("user_id", "name", "age", "gender", "location", "occupation", "day_start", "updated_at")


def user_id(number: int) -> str:
    return f"u{number:06d}"


def user_ids(first: int, last: int) -> list[str]:
    """Ids of customers number `first`..`last` inclusive."""
    return [user_id(n) for n in range(first, last + 1)]


def _pick(pool: tuple[str, ...], index: np.ndarray) -> np.ndarray:
    return np.asarray(pool, dtype=object)[index]


def customer_block(seed: int, block: int) -> pa.Table:
    """All BLOCK customers of one block: numbers block*BLOCK+1 .. (block+1)*BLOCK."""
    pools = people_pools(seed)
    rng = np.random.default_rng([seed, _STREAM, block])
    n = BLOCK
    gender = rng.choice(len(GENDERS), size=n, p=GENDER_SHARES)
    female = rng.integers(0, len(pools.female_first), n)
    male = rng.integers(0, len(pools.male_first), n)
    # Non-binary customers get either first-name pool at random.
    either = rng.random(n) < 0.5
    use_female = (gender == 0) | ((gender == 2) & either)
    first = np.where(use_female, _pick(pools.female_first, female), _pick(pools.male_first, male))
    last = _pick(pools.last, rng.integers(0, len(pools.last), n))
    # Working-age skew: most customers 25-60, a tail to 90, none under 18.
    age = np.clip(np.rint(rng.normal(41, 14, n)), 18, 90).astype(np.int32)
    location = rng.choice(len(pools.locations), size=n, p=zipf_weights(len(pools.locations), 0.9))
    occupation = rng.choice(
        len(pools.occupations), size=n, p=zipf_weights(len(pools.occupations), 0.5)
    )
    span = (JOINED_UNTIL - JOINED_FROM).days + 1
    joined = np.datetime64(JOINED_FROM) + rng.integers(0, span, n).astype("timedelta64[D]")
    signup_second = rng.integers(0, 86_400, n).astype("timedelta64[s]")
    numbers = range(block * BLOCK + 1, (block + 1) * BLOCK + 1)
    return pa.table({
        "user_id": pa.array([user_id(k) for k in numbers], pa.string()),
        "name": pa.array((first + " " + last).tolist(), pa.string()),
        "age": pa.array(age),
        "gender": pa.array(np.asarray(GENDERS, dtype=object)[gender].tolist(), pa.string()),
        "location": pa.array(_pick(pools.locations, location).tolist(), pa.string()),
        "occupation": pa.array(_pick(pools.occupations, occupation).tolist(), pa.string()),
        "day_start": pa.array(joined.astype("datetime64[D]")),
        # Naive timestamps, written while the session time zone is UTC (see load.py).
        "updated_at": pa.array(joined.astype("datetime64[s]") + signup_second),
    })


def customers(seed: int, first: int, last: int) -> pa.Table:
    """Customers number `first`..`last` inclusive (1-based), same rows for any range."""
    if last < first:
        return customer_block(seed, 0).slice(0, 0)
    parts = []
    for block in range((first - 1) // BLOCK, (last - 1) // BLOCK + 1):
        table = customer_block(seed, block)
        start = max(first - 1 - block * BLOCK, 0)
        stop = min(last - block * BLOCK, BLOCK)
        parts.append(table.slice(start, stop - start))
    return pa.concat_tables(parts)
