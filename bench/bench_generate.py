"""Throughput of `txlake generate transactions`, phase by phase.

Run: .venv/bin/python bench/bench_generate.py [--rows N] [--customers N]

Works in a scratch schema (txlake_bench, dropped at the end) of the database
the settings point at, with the same tables, keys and indexes as the source
schema, so the numbers include primary-key, index and foreign-key upkeep.
Prints rows/s per phase:

  generate            numpy/pyarrow rows only
  generate+csv        rows rendered to the CSV that COPY reads
  copy                COPY of pre-rendered CSV only (the server's limit), with the
                      foreign key checked per row, then checked once (see load.py)
  sequential          build a chunk, copy it, build the next, ...
  pipelined           build the next chunk in a thread while this one is copied
  full command        generate_transactions with default shares, one commit
"""

from __future__ import annotations

import argparse
import os
import time
from datetime import date
from functools import partial

import psycopg

from txlake.generate import jobs, load
from txlake.generate import transactions as tx
from txlake.generate.pools import vendor_pool
from txlake.settings import get_settings

SCHEMA = "txlake_bench"
DAY = date(2026, 11, 20)
SEED = 7


def scratch_schema(conn: psycopg.Connection) -> None:
    conn.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
    conn.execute(f"CREATE SCHEMA {SCHEMA}")
    for table in ("customers", "transactions"):
        conn.execute(f"CREATE TABLE {SCHEMA}.{table} (LIKE public.{table} INCLUDING ALL)")
    conn.execute(
        f"ALTER TABLE {SCHEMA}.transactions ADD FOREIGN KEY (user_id) "
        f"REFERENCES {SCHEMA}.customers (user_id)"
    )


def empty_transactions(conn: psycopg.Connection) -> None:
    conn.execute(f"TRUNCATE {SCHEMA}.transactions")
    try:  # so one phase's dirty pages do not slow the next; needs pg_checkpoint
        conn.execute("CHECKPOINT")
    except psycopg.errors.InsufficientPrivilege:
        pass


def timed(fn) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--customers", type=int, default=100_000)
    args = parser.parse_args()
    settings = get_settings()
    # Every connection of this process, including the generator's own, works
    # in the scratch schema.
    os.environ["PGOPTIONS"] = f"-c search_path={SCHEMA}"
    admin = psycopg.connect(settings.postgres_dsn(), autocommit=True)
    scratch_schema(admin)
    results: list[tuple[str, int, float]] = []
    try:
        seconds = timed(lambda: jobs.generate_customers(settings, args.customers, SEED))
        results.append(("customers (full command)", args.customers, seconds))

        users = [r[0] for r in admin.execute(f"SELECT user_id FROM {SCHEMA}.customers")]
        users.sort()
        spec = tx.DaySpec(DAY, args.rows, SEED, jobs.DEFAULT_LATE_SHARE)
        batch = tx.DayBatch.build(spec, users, vendor_pool(SEED))
        makers = [partial(batch.chunk, i) for i in range(batch.chunks)]

        results.append(("generate", args.rows, timed(lambda: [m() for m in makers])))
        buffers: list[bytes] = []
        results.append(("generate+csv", args.rows,
                        timed(lambda: buffers.extend(load.to_csv(m()) for m in makers))))

        copy_sql = f"COPY transactions ({', '.join(tx.COLUMNS)}) FROM STDIN (FORMAT csv)"

        def loading(body, keys_once: bool = True):
            """Runs body(conn) as the generator does: one transaction, keys checked once."""
            def run() -> None:
                with load.session(settings) as conn:
                    if keys_once:
                        with load.foreign_keys_checked_once(conn, "transactions"):
                            body(conn)
                    else:
                        body(conn)
            return run

        def copy_only(conn) -> None:
            with conn.cursor() as cur, cur.copy(copy_sql) as copy:
                for data in buffers:
                    copy.write(data)

        def sequential(conn) -> None:
            with conn.cursor() as cur, cur.copy(copy_sql) as copy:
                for make in makers:
                    copy.write(load.to_csv(make()))

        def pipelined(conn) -> None:
            load.copy_chunks(conn, "transactions", tx.COLUMNS, makers)

        for name, body, keys_once in (
            ("copy, foreign key checked per row", copy_only, False),
            ("copy (pre-rendered csv)", copy_only, True),
            ("sequential generate+copy", sequential, True),
            ("pipelined generate+copy", pipelined, True),
        ):
            empty_transactions(admin)
            results.append((name, args.rows, timed(loading(body, keys_once))))
        buffers.clear()

        empty_transactions(admin)
        result = jobs.generate_transactions(settings, DAY, args.rows, SEED)
        results.append(("full command: inserts", result.inserted, result.insert_seconds))
        results.append((f"full command: all ({result.updated:,} upd, {result.deleted:,} del)",
                        result.inserted, result.seconds))
    finally:
        admin.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
        admin.close()

    print(f"\n{'phase':<44} {'rows':>10} {'seconds':>8} {'rows/s':>10}")
    print("-" * 75)
    for name, rows, seconds in results:
        print(f"{name:<44} {rows:>10,} {seconds:>8.2f} {rows / seconds:>10,.0f}")


if __name__ == "__main__":
    main()
