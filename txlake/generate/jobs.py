"""The generator operations the CLI (and the Airflow DAG) call.

Re-run rule for a day: its inserts are keyed t<YYYYMMDD>-<seq>, so a day is
"generated" once any row with its prefix exists. Running a generated day again
writes nothing and reports `skipped`. Inserts, updates and deletes of a day
commit together, so a crash leaves the day either complete or absent.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import date
from functools import partial

import pyarrow as pa

from txlake.errors import TxlakeError
from txlake.generate import customers as cust
from txlake.generate import load
from txlake.generate import transactions as tx
from txlake.generate.pools import vendor_pool
from txlake.settings import Settings

Progress = Callable[[int], None]

DEFAULT_SEED = 42
DEFAULT_UPDATE_SHARE = 0.05
DEFAULT_DELETE_SHARE = 0.01
DEFAULT_LATE_SHARE = 0.02
# Six digits in ids keep them sorted up to this many rows; beyond it ids stay
# unique but grow a digit.
MAX_COUNT = 100_000_000


# -- argument checks: one-line errors ------------------------------------------


def check_count(count: int, what: str = "--count") -> int:
    if count < 0:
        raise TxlakeError(f"{what} must be zero or more (got {count})")
    if count > MAX_COUNT:
        raise TxlakeError(f"{what} must be at most {MAX_COUNT:,} (got {count:,})")
    return count


def check_share(value: float, what: str) -> float:
    if not 0.0 <= value <= 1.0:  # also false for NaN
        raise TxlakeError(f"{what} must be a fraction between 0 and 1 (got {value})")
    return value


def parse_day(text: str, what: str = "--date") -> date:
    try:
        if len(text) != 10:
            raise ValueError
        return date.fromisoformat(text)
    except ValueError:
        raise TxlakeError(f"{what} must be a date as YYYY-MM-DD (got {text!r})") from None


def check_seed(seed: int) -> int:
    if seed < 0:
        raise TxlakeError(f"--seed must be zero or more (got {seed})")
    return seed


# -- customers -----------------------------------------------------------------


@dataclass(frozen=True)
class CustomersResult:
    requested: int
    inserted: int
    existing: int
    seconds: float

    def as_dict(self) -> dict:
        return asdict(self)


def generate_customers(
    settings: Settings, count: int, seed: int = DEFAULT_SEED, progress: Progress | None = None
) -> CustomersResult:
    """Make sure customers u000001..u<count> exist; add only the missing ones."""
    check_count(count)
    check_seed(seed)
    started = time.perf_counter()
    with load.session(settings) as conn:
        present = load.existing_customers(conn, cust.user_ids(1, count)) if count else set()
        blocks = range(0, -(-count // cust.BLOCK))

        def block_rows(block: int) -> pa.Table:
            first = block * cust.BLOCK + 1
            rows = cust.customers(seed, first, min(first + cust.BLOCK - 1, count))
            if present:
                keep = [uid not in present for uid in rows["user_id"].to_pylist()]
                rows = rows.filter(pa.array(keep))
            return rows

        inserted = load.copy_chunks(
            conn, "customers", cust.COLUMNS, [partial(block_rows, b) for b in blocks],
            progress or (lambda rows: None),
        )
    return CustomersResult(count, inserted, len(present), time.perf_counter() - started)


# -- transactions --------------------------------------------------------------


@dataclass(frozen=True)
class TransactionsResult:
    date: str
    status: str  # "created" or "skipped" (the day was already generated)
    inserted: int
    late_arrivals: int
    updated: int
    updated_earlier: int
    deleted: int
    deleted_earlier: int
    seconds: float
    insert_seconds: float

    @property
    def rows_per_second(self) -> float:
        return self.inserted / self.insert_seconds if self.insert_seconds else 0.0

    def as_dict(self) -> dict:
        return {**asdict(self), "rows_per_second": round(self.rows_per_second)}


def generate_transactions(
    settings: Settings,
    day: date,
    count: int,
    seed: int = DEFAULT_SEED,
    update_share: float = DEFAULT_UPDATE_SHARE,
    delete_share: float = DEFAULT_DELETE_SHARE,
    late_share: float = DEFAULT_LATE_SHARE,
    progress: Progress | None = None,
) -> TransactionsResult:
    """Insert the day's transactions, then apply its updates and deletes, in one commit."""
    check_count(count)
    check_seed(seed)
    for value, name in ((update_share, "--update-share"), (delete_share, "--delete-share"),
                        (late_share, "--late-share")):
        check_share(value, name)
    if update_share + delete_share > 1.0 + 1e-9:
        raise TxlakeError(
            f"--update-share plus --delete-share must not exceed 1 "
            f"(got {update_share} + {delete_share})"
        )
    started = time.perf_counter()
    with load.session(settings) as conn:
        present = load.day_rows_present(conn, day)
        if present:
            return TransactionsResult(day.isoformat(), "skipped", 0, 0, 0, 0, 0, 0,
                                      time.perf_counter() - started, 0.0)
        with contextlib.ExitStack() as keys:
            if load.bulk_fk_worthwhile(conn, "transactions", count):
                # Before the customers are read: the drop locks customers
                # against deletes, so re-creating the key cannot fail.
                keys.enter_context(load.foreign_keys_checked_once(conn, "transactions"))
            users = load.all_user_ids(conn)
            if not users:
                raise TxlakeError(
                    "no customers yet: run `txlake generate customers --count N` first"
                )
            vendors = vendor_pool(seed)
            batch = tx.DayBatch.build(tx.DaySpec(day, count, seed, late_share), users, vendors)
            insert_started = time.perf_counter()
            inserted = load.copy_chunks(
                conn, "transactions", tx.COLUMNS,
                [partial(batch.chunk, i) for i in range(batch.chunks)],
                progress or (lambda rows: None),
            )
        insert_seconds = time.perf_counter() - insert_started
        changes = _apply_changes(conn, day, count, seed, update_share, delete_share, vendors)
    return TransactionsResult(
        date=day.isoformat(), status="created", inserted=inserted,
        late_arrivals=batch.late_arrivals, seconds=time.perf_counter() - started,
        insert_seconds=insert_seconds, **changes,
    )


def _apply_changes(conn, day, count, seed, update_share, delete_share, vendors) -> dict:
    """Late corrections and cancellations: on earlier days' rows and on the day's own."""
    want = tx.change_counts(count, update_share, delete_share)
    earlier = load.pick_earlier_rows(conn, day, seed, want.earlier_updates + want.earlier_deletes)
    earlier_updates = earlier[: want.earlier_updates]
    earlier_deletes = earlier[want.earlier_updates:]
    # When the earlier days hold too few rows, the day's own rows take the rest.
    rng = tx.dml_rng(seed, day)
    own_updates, own_deletes = tx.pick_own_rows(
        rng, count, want.updates - len(earlier_updates), want.deletes - len(earlier_deletes)
    )
    update_ids = earlier_updates + tx.transaction_ids(day, own_updates).to_pylist()
    delete_ids = earlier_deletes + tx.transaction_ids(day, own_deletes).to_pylist()
    plan = tx.plan_updates(rng, day, load.current_rows(conn, update_ids), vendors)
    return {
        "updated": load.apply_updates(conn, plan),
        "updated_earlier": len(earlier_updates),
        "deleted": load.apply_deletes(conn, delete_ids),
        "deleted_earlier": len(earlier_deletes),
    }
