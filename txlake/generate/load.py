"""Writing generated rows into PostgreSQL: COPY for inserts, set-based DML.

Every generator run is one database transaction: a day is either all there
(inserts, updates, deletes) or not at all, which the re-run rule relies on.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import date, datetime, timedelta

import psycopg
import pyarrow as pa
import pyarrow.csv as pacsv
from psycopg import sql

from txlake.errors import TxlakeError
from txlake.generate.transactions import LATE_WINDOW_DAYS, RowUpdate, day_prefix
from txlake.settings import Settings

# One lock for all generator runs: two runs touching the same earlier rows in
# different orders could otherwise deadlock, and two runs of one day would
# both think the day is new.
_LOCK_KEY = 0x7478_6765  # "txge"
_CSV = pacsv.WriteOptions(include_header=False)
# How many chunks may be built ahead of the one being copied: enough to keep
# the server busy, few enough to bound memory (a chunk is ~10 MB of CSV).
PREFETCH = 2


def to_csv(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pacsv.write_csv(table, sink, _CSV)
    return sink.getvalue()


@contextmanager
def session(settings: Settings) -> Iterator[psycopg.Connection]:
    """One transaction as the table owner, in UTC, holding the generator lock."""
    where = f"{settings.postgres_host}:{settings.postgres_port}/{settings.postgres_db}"
    try:
        conn = psycopg.connect(settings.postgres_dsn())
    except psycopg.OperationalError as error:
        reason = str(error).strip().splitlines()[-1] if str(error).strip() else "no answer"
        raise TxlakeError(f"cannot connect to PostgreSQL at {where}: {reason}") from None
    try:
        with conn.transaction():
            # Naive timestamps in COPY are read in the session time zone.
            conn.execute("SET LOCAL TIME ZONE 'UTC'")
            _require_tables(conn, where)
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
            yield conn
    except psycopg.errors.UniqueViolation as error:
        detail = (error.diag.message_detail or str(error)).splitlines()[0]
        raise TxlakeError(f"a generated id already exists ({detail})") from None
    except psycopg.Error as error:
        first = (str(error).strip().splitlines() or ["database error"])[0]
        raise TxlakeError(f"PostgreSQL at {where}: {first}") from None
    finally:
        conn.close()


def _require_tables(conn: psycopg.Connection, where: str) -> None:
    row = conn.execute(
        "SELECT to_regclass('customers') IS NOT NULL, to_regclass('transactions') IS NOT NULL"
    ).fetchone()
    missing = [name for name, ok in zip(("customers", "transactions"), row, strict=True) if not ok]
    if missing:
        raise TxlakeError(
            f"table {missing[0]} does not exist in {where}: start the stack (txlake stack up) "
            "or apply scripts/sql/source_schema.sql"
        )


def copy_chunks(
    conn: psycopg.Connection,
    table: str,
    columns: tuple[str, ...],
    chunks: list[Callable[[], pa.Table]],
    progress: Callable[[int], None] = lambda rows: None,
) -> int:
    """COPY the tables the callables build, building the next while this one is copied.

    numpy, pyarrow and libpq release the GIL in their heavy parts, so one
    builder thread next to the copying thread keeps both CPU cores busy.
    """

    def build(make: Callable[[], pa.Table]) -> tuple[bytes, int]:
        rows = make()
        return to_csv(rows.select(list(columns))), rows.num_rows

    sql = f"COPY {table} ({', '.join(columns)}) FROM STDIN (FORMAT csv)"
    total = 0
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="txlake-gen") as pool:
        pending = [pool.submit(build, make) for make in chunks[:PREFETCH]]
        upcoming = iter(chunks[PREFETCH:])
        with conn.cursor() as cur, cur.copy(sql) as copy:
            while pending:
                data, rows = pending.pop(0).result()
                nxt = next(upcoming, None)
                if nxt is not None:
                    pending.append(pool.submit(build, nxt))
                copy.write(data)
                total += rows
                progress(rows)
    return total


# -- foreign keys during bulk loads ---------------------------------------------

# Measured on PostgreSQL 15: checking the foreign key row by row costs COPY
# about as much as everything else together (about 10 us a row), while
# re-creating it validates the whole table in one join (about 0.25 us a row).
# So for a batch that is large, and not tiny next to the table, dropping the
# keys before COPY and re-creating them before commit is about twice as fast.
BULK_FK_MIN_ROWS = 100_000
BULK_FK_TABLE_RATIO = 20


def bulk_fk_worthwhile(conn: psycopg.Connection, table: str, rows: int) -> bool:
    if rows < BULK_FK_MIN_ROWS:
        return False
    estimate = conn.execute(
        "SELECT greatest(reltuples, 0) FROM pg_class WHERE oid = %s::regclass", (table,)
    ).fetchone()[0]
    return rows * BULK_FK_TABLE_RATIO >= estimate


@contextmanager
def foreign_keys_checked_once(conn: psycopg.Connection, table: str) -> Iterator[None]:
    """Drop the table's foreign keys, yield, re-create them exactly as they were.

    Inside the caller's transaction: other sessions never see the table
    without its keys (they wait for the commit, as the drop locks the table),
    and a row that breaks a key fails the re-creation and so the whole run.
    """
    keys = conn.execute(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE conrelid = %s::regclass AND contype = 'f' ORDER BY conname",
        (table,),
    ).fetchall()
    for name, _ in keys:
        conn.execute(sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(
            sql.Identifier(table), sql.Identifier(name)))
    yield
    for name, definition in keys:
        # The definition comes from the catalog, written by PostgreSQL itself.
        conn.execute(sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} {}").format(
            sql.Identifier(table), sql.Identifier(name), sql.SQL(definition)))


# -- customers -----------------------------------------------------------------


def existing_customers(conn: psycopg.Connection, ids: list[str]) -> set[str]:
    rows = conn.execute(
        "SELECT user_id FROM customers WHERE user_id = ANY(%s)", (ids,)
    ).fetchall()
    return {r[0] for r in rows}


def all_user_ids(conn: psycopg.Connection) -> list[str]:
    # Sorted here, not by the database collation: the mapping from random draws
    # to users then depends on the customers present only.
    return sorted(r[0] for r in conn.execute("SELECT user_id FROM customers"))


# -- transactions --------------------------------------------------------------


def _window(day: date) -> tuple[datetime, datetime]:
    start = datetime(day.year, day.month, day.day)
    return start - timedelta(days=LATE_WINDOW_DAYS), start


def day_rows_present(conn: psycopg.Connection, day: date) -> int:
    """How many rows of the day's batch exist (0: the day was not generated).

    A batch's rows all happened within [day - 7 days, day + 1 day), so the
    time index bounds the scan whatever the collation of transaction_id.
    """
    low, start = _window(day)
    row = conn.execute(
        "SELECT count(*) FROM transactions WHERE transaction_time >= %s "
        "AND transaction_time < %s AND starts_with(transaction_id, %s)",
        (low, start + timedelta(days=1), day_prefix(day)),
    ).fetchone()
    return int(row[0])


def first_free_day(conn: psycopg.Connection, start: date) -> date:
    """The first day from `start` on that the generator has not written yet."""
    day = start
    while day_rows_present(conn, day):
        day += timedelta(days=1)
    return day


def pick_earlier_rows(
    conn: psycopg.Connection, day: date, seed: int, limit: int
) -> list[str]:
    """Up to `limit` rows of the 7 days before `day`, in a seeded but fixed order.

    Ordering by a hash of (seed, day, id) samples evenly over the window and
    gives the same rows for the same database content.
    """
    if limit <= 0:
        return []
    low, start = _window(day)
    rows = conn.execute(
        "SELECT transaction_id FROM transactions WHERE transaction_time >= %s "
        "AND transaction_time < %s AND NOT starts_with(transaction_id, %s) "
        "ORDER BY md5(%s || transaction_id), transaction_id LIMIT %s",
        (low, start, day_prefix(day), f"{seed}:{day.isoformat()}:", limit),
    ).fetchall()
    return [r[0] for r in rows]


def current_rows(
    conn: psycopg.Connection, ids: list[str]
) -> list[tuple[str, int | None, str | None, datetime | None]]:
    """(id, amount in cents, vendor, last change) of the given rows, in id order."""
    rows = conn.execute(
        "SELECT transaction_id, (amount * 100)::bigint, vendor, "
        "coalesce(updated_at, transaction_time) FROM transactions "
        "WHERE transaction_id = ANY(%s) ORDER BY transaction_id COLLATE \"C\"",
        (ids,),
    ).fetchall()
    return [tuple(r) for r in rows]


def apply_updates(conn: psycopg.Connection, updates: list[RowUpdate]) -> int:
    if not updates:
        return 0
    ids = [u.transaction_id for u in updates]
    # The extra `= ANY(ids)` lets the planner find the rows through the primary
    # key; joining on unnest alone gets a hash join over the whole table,
    # whose cost grows with every day generated.
    cur = conn.execute(
        "UPDATE transactions AS t SET amount = v.cents / 100.0, vendor = v.vendor, "
        "updated_at = v.updated_at "
        "FROM unnest(%s::text[], %s::bigint[], %s::text[], %s::timestamptz[]) "
        "AS v(id, cents, vendor, updated_at) "
        "WHERE t.transaction_id = v.id AND t.transaction_id = ANY(%s)",
        (
            ids,
            [u.amount_cents for u in updates],
            [u.vendor for u in updates],
            [u.updated_at for u in updates],
            ids,
        ),
    )
    return cur.rowcount


def apply_deletes(conn: psycopg.Connection, ids: list[str]) -> int:
    if not ids:
        return 0
    return conn.execute(
        "DELETE FROM transactions WHERE transaction_id = ANY(%s)", (ids,)
    ).rowcount
