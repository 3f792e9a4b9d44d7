"""Transaction rows and change plans for one day: pure generation, no database.

A day is generated in fixed-size chunks, each from its own random stream keyed
by (seed, day, chunk). Chunks are independent, so the loader can build the
next one while PostgreSQL copies the current one, and the rows do not depend
on how the work was scheduled.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from txlake.generate import categories as cats
from txlake.generate.pools import VendorPool

CHUNK_ROWS = 100_000
# Of all updates and deletes, the share aimed at rows of earlier days
# (late corrections and cancellations); the rest hit the day's own rows.
EARLIER_CHANGE_SHARE = 0.3
# Late arrivals and late changes reach back at most this many days.
LATE_WINDOW_DAYS = 7
# Pareto tail of per-user activity: with 1.5 the busiest 10% of users make
# about 45% of the transactions. Capped so one user cannot dominate a small day.
ACTIVITY_ALPHA = 1.5
ACTIVITY_CAP = 200.0
# Of the updates, this share corrects the amount; the others fix the vendor.
AMOUNT_CORRECTION_SHARE = 0.7

# Relative volume per UTC hour: quiet nights, a lunch peak, an evening peak.
HOURLY_RHYTHM = np.array([
    1.2, 0.8, 0.5, 0.4, 0.4, 0.6, 1.2, 2.5, 3.8, 4.5, 5.0, 5.6,
    6.6, 6.2, 5.4, 5.2, 5.5, 6.2, 6.8, 6.6, 5.6, 4.4, 3.0, 1.9,
])
_HOUR_CDF = np.cumsum(HOURLY_RHYTHM / HOURLY_RHYTHM.sum())
_HOUR_CDF[-1] = 1.0
_DML_STREAM = 0x646D6C  # "dml"
_TIME_STREAM = 0x74696D  # "tim"

COLUMNS = ("transaction_id", "user_id", "amount", "vendor", "source", "transaction_time",
           "updated_at")


def day_prefix(day: date) -> str:
    return f"t{day:%Y%m%d}-"


def transaction_id(day: date, seq: int) -> str:
    """The id of the day's seq-th insert (1-based): unique by construction."""
    return f"{day_prefix(day)}{seq:06d}"


def transaction_ids(day: date, seq: np.ndarray) -> pa.Array:
    """transaction_id for many seq numbers at once (same format as transaction_id)."""
    digits = pc.utf8_lpad(pc.cast(pa.array(seq, pa.int64()), pa.string()), width=6, padding="0")
    return pc.binary_join_element_wise(day_prefix(day), digits, "")


def chunk_count(count: int) -> int:
    return -(-count // CHUNK_ROWS)


def user_activity(user_ids: list[str], seed: int) -> np.ndarray:
    """Relative activity of each user: heavy-tailed, and the same every day.

    Derived from a hash of (seed, user id) rather than a position, so adding
    customers never changes how active the existing ones are.
    """
    raw = b"".join(
        hashlib.blake2b(f"{seed}:{uid}".encode(), digest_size=8).digest() for uid in user_ids
    )
    uniform = (np.frombuffer(raw, dtype="<u8") >> np.uint64(11)) / float(1 << 53)
    return np.minimum((1.0 - uniform) ** (-1.0 / ACTIVITY_ALPHA), ACTIVITY_CAP)


def _epoch_seconds(day: date) -> int:
    return (day - date(1970, 1, 1)).days * 86_400


def _seconds_of_day(rng: np.random.Generator, n: int) -> np.ndarray:
    hour = np.searchsorted(_HOUR_CDF, rng.random(n), side="right")
    return hour * 3_600 + rng.integers(0, 3_600, n)


def _decimal_cents(cents: np.ndarray) -> pa.Array:
    """numeric(12,2) values from integer cents, exactly (no float rounding)."""
    words = np.zeros((len(cents), 2), dtype=np.int64)
    words[:, 0] = cents
    words[:, 1] = np.where(cents < 0, -1, 0)  # two's complement high word
    return pa.Array.from_buffers(pa.decimal128(12, 2), len(cents), [None, pa.py_buffer(words)])


def _lookup(index: np.ndarray, names: tuple[str, ...]) -> pa.Array:
    """names[index] as a plain string column, without a Python loop per row."""
    return pa.DictionaryArray.from_arrays(
        pa.array(index.astype(np.int32)), pa.array(names, pa.string())
    ).cast(pa.string())


def amounts_cents(rng: np.random.Generator, category: np.ndarray) -> np.ndarray:
    """Log-normal amounts by category; cash comes in whole notes."""
    log_amount = cats.log_medians()[category] + cats.sigmas()[category] * rng.standard_normal(
        len(category)
    )
    amount = np.exp(log_amount)
    cash = category == cats.CASH
    notes = np.maximum(np.rint(amount[cash] / cats.CASH_STEP), 1) * cats.CASH_STEP
    cents = np.rint(amount * 100).astype(np.int64)
    cents[cash] = (notes * 100).astype(np.int64)
    return np.clip(cents, 1, cats.MAX_AMOUNT_CENTS)


@dataclass(frozen=True)
class DaySpec:
    day: date
    count: int
    seed: int
    late_share: float


def day_times(spec: DaySpec) -> tuple[np.ndarray, np.ndarray]:
    """When each of the day's inserts happened and arrived (epoch seconds), by arrival.

    Late arrivals happened 1..7 days earlier (most of them the day before)
    but reach the database during the day. Ids follow arrival order, as a
    database sequence would, which also keeps the time index append-mostly.
    """
    n = spec.count
    rng = np.random.default_rng([spec.seed, spec.day.toordinal(), _TIME_STREAM])
    late = rng.random(n) < spec.late_share
    days_back = np.where(late, np.minimum(rng.geometric(0.55, n), LATE_WINDOW_DAYS), 0)
    day_start = _epoch_seconds(spec.day)
    happened = day_start - days_back * 86_400 + _seconds_of_day(rng, n)
    arrived = np.where(late, day_start + _seconds_of_day(rng, n), happened)
    order = np.argsort(arrived, kind="stable")
    return happened[order], arrived[order]


@dataclass(frozen=True)
class DayBatch:
    """Everything fixed for a day before its chunks are built."""

    spec: DaySpec
    users: pa.Array  # user ids, sorted
    activity_cdf: np.ndarray  # cumulative user_activity, aligned with users
    vendors: VendorPool
    happened: np.ndarray
    arrived: np.ndarray

    @classmethod
    def build(cls, spec: DaySpec, users: list[str], vendors: VendorPool) -> DayBatch:
        happened, arrived = day_times(spec)
        return cls(spec, pa.array(users, pa.string()),
                   np.cumsum(user_activity(users, spec.seed)), vendors, happened, arrived)

    @property
    def chunks(self) -> int:
        return chunk_count(self.spec.count)

    @property
    def late_arrivals(self) -> int:
        return int((self.happened < _epoch_seconds(self.spec.day)).sum())

    def chunk(self, index: int) -> pa.Table:
        """Rows of one chunk: ids seq index*CHUNK_ROWS+1 onwards."""
        first = index * CHUNK_ROWS
        n = min(CHUNK_ROWS, self.spec.count - first)
        rng = np.random.default_rng([self.spec.seed, self.spec.day.toordinal(), index])
        cdf = self.activity_cdf
        who = np.minimum(np.searchsorted(cdf, rng.random(n) * cdf[-1], side="right"), len(cdf) - 1)
        category = np.searchsorted(cats.category_cdf(), rng.random(n), side="right")
        category = np.minimum(category, len(cats.CATEGORIES) - 1)
        vendors = self.vendors
        vendor = np.searchsorted(vendors.keyed_cdf, category + rng.random(n), side="right")
        vendor = np.clip(vendor, vendors.bounds[category, 0], vendors.bounds[category, 1] - 1)
        cents = amounts_cents(rng, category)
        channel = (rng.random(n)[:, None] > cats.channel_cdf()[category]).sum(axis=1)
        channel = np.minimum(channel, len(cats.CHANNELS) - 1)
        return pa.table({
            "transaction_id": transaction_ids(self.spec.day, np.arange(first + 1, first + n + 1)),
            "user_id": self.users.take(pa.array(who)),
            "amount": _decimal_cents(cents),
            "vendor": _lookup(vendor, vendors.names),
            "source": _lookup(channel, cats.CHANNELS),
            # Naive UTC timestamps: the loader sets the session time zone to UTC.
            "transaction_time": pa.array(self.happened[first:first + n].astype("datetime64[s]")),
            "updated_at": pa.array(self.arrived[first:first + n].astype("datetime64[s]")),
        })


# -- updates and deletes ---------------------------------------------------------


def dml_rng(seed: int, day: date) -> np.random.Generator:
    return np.random.default_rng([seed, day.toordinal(), _DML_STREAM])


@dataclass(frozen=True)
class ChangeCounts:
    updates: int
    deletes: int
    earlier_updates: int
    earlier_deletes: int


def change_counts(count: int, update_share: float, delete_share: float) -> ChangeCounts:
    """How many updates and deletes the day asks for, and how many aim at earlier days."""
    updates = round(update_share * count)
    deletes = round(delete_share * count)
    return ChangeCounts(
        updates=updates,
        deletes=deletes,
        earlier_updates=round(updates * EARLIER_CHANGE_SHARE),
        earlier_deletes=round(deletes * EARLIER_CHANGE_SHARE),
    )


def pick_own_rows(
    rng: np.random.Generator, count: int, updates: int, deletes: int
) -> tuple[np.ndarray, np.ndarray]:
    """Seq numbers (1-based) of the day's rows to update and to delete; disjoint.

    Deletes always spare at least one of the day's rows: a day with any row
    left counts as generated, which is what keeps re-runs from duplicating it.
    """
    if count <= 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    updates = min(updates, count)
    deletes = min(deletes, max(count - updates - 1, 0))
    picked = rng.choice(count, size=updates + deletes, replace=False) + 1
    return np.sort(picked[:updates]), np.sort(picked[updates:])


@dataclass(frozen=True)
class RowUpdate:
    transaction_id: str
    amount_cents: int
    vendor: str
    updated_at: datetime


def plan_updates(
    rng: np.random.Generator,
    day: date,
    rows: list[tuple[str, int | None, str | None, datetime | None]],
    vendors: VendorPool,
) -> list[RowUpdate]:
    """New values for rows (id, amount in cents, vendor, last change), in id order.

    Amount corrections scale the amount (a tip added, a partial refund, a
    keying error fixed); vendor fixes move the row to another merchant of the
    same category. Every update moves updated_at forward, to a time on the
    day being generated or later.
    """
    n = len(rows)
    if n == 0:
        return []
    correct_amount = rng.random(n) < AMOUNT_CORRECTION_SHARE
    factor = np.exp(rng.normal(0.0, 0.25, n))
    vendor_draw = rng.random(n)
    delay = rng.integers(60, 6 * 3_600, n)
    index_of = {name: i for i, name in enumerate(vendors.names)}
    day_start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    out = []
    for i, (tid, cents, vendor, changed) in enumerate(rows):
        cents = cents if cents is not None else 0
        vendor = vendor or ""
        if correct_amount[i]:
            new_cents = int(min(max(round(cents * factor[i]), 1), cats.MAX_AMOUNT_CENTS))
            if new_cents == cents:
                new_cents = cents + 1 if cents < cats.MAX_AMOUNT_CENTS else cents - 1
            new_vendor = vendor
        else:
            new_cents = cents
            new_vendor = _other_vendor(vendors, index_of.get(vendor), vendor_draw[i])
        since = max(changed, day_start) if changed is not None else day_start
        out.append(RowUpdate(tid, new_cents, new_vendor, since + timedelta(seconds=int(delay[i]))))
    return out


def _other_vendor(vendors: VendorPool, current: int | None, draw: float) -> str:
    if current is None:  # a vendor from outside our pool (another tool wrote it)
        return vendors.names[int(draw * len(vendors.names))]
    start, stop = vendors.bounds[vendors.category[current]]
    if stop - start < 2:
        return vendors.names[current]
    # Any other vendor of the category: skip over the current one.
    pick = start + int(draw * (stop - start - 1))
    return vendors.names[pick + 1 if pick >= current else pick]
