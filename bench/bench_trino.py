"""Benchmark Trino over the lake: warm latency of a point lookup and of weekly aggregates.

    .venv/bin/python bench/bench_trino.py [--rows 1000000] [--runs 20] [--external] [--keep]

Spark writes a Delta table of --rows transactions with the silver table's
columns and properties (deletion vectors on; unsorted, as MERGE leaves it) at
s3://<bucket>/project/bench_transactions, registers it in Trino like any lake
table, then times, after warm-up runs, each query --runs times and prints
the median (Trino's own result cache is off; each lookup asks for a different key):

- point lookup: one transaction by transaction_id, all columns;
- weekly per-user aggregate: the seven *_l1w features of every user active in
  one week (all rows fetched by the Python client);
- weekly totals: the same week's aggregate to a single row (engine time only).

By default it starts its own stack in .txlake-bench/ and stops it at the end;
--external uses the stack the settings point at (e.g. your running dev stack)
and stops nothing. The bench table is dropped at the end unless --keep.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if "--external" not in sys.argv:
    os.environ["TXLAKE_HOME"] = str(ROOT / ".txlake-bench")

from report import print_table  # noqa: E402

from txlake.lake import catalog  # noqa: E402
from txlake.lake.storage import s3_client  # noqa: E402
from txlake.settings import Settings, get_settings  # noqa: E402
from txlake.stack import manager, process  # noqa: E402

TABLE = "bench_transactions"
WEEK_START = "2026-11-09"  # a Monday inside the generated four weeks
USERS = 50_000


def build_table(settings: Settings, rows: int) -> float:
    """Write the bench table with Spark; seconds taken (JVM start included)."""
    from txlake.lake.spark import session

    started = time.monotonic()
    spark = session(settings, "txlake-bench-trino")
    frame = spark.sql(f"""
        SELECT
          concat('bench-', lpad(cast(id AS string), 9, '0')) AS transaction_id,
          concat('user-', cast(floor(pow(rand(7), 3) * {USERS}) AS string)) AS user_id,
          cast(round(exp(randn(11)) * 25, 2) AS decimal(12,2)) AS amount,
          concat('vendor-', cast(floor(pow(rand(13), 2) * 500) AS string)) AS vendor,
          element_at(array('online', 'in_store', 'mobile', 'atm'),
                     cast(floor(rand(17) * 4) AS int) + 1) AS source,
          timestamp_seconds(unix_timestamp(timestamp '2026-10-26 00:00:00')
                            + cast(rand(19) * 28 * 86400 AS bigint)) AS transaction_time,
          id AS _lsn,
          current_timestamp() AS _ingested_at
        FROM range({rows})
    """).selectExpr("transaction_id", "user_id", "amount", "vendor", "source", "transaction_time",
                    "transaction_time AS updated_at", "_lsn", "_ingested_at")
    (frame.repartition(4).write.format("delta").mode("overwrite")
     .option("delta.enableDeletionVectors", "true")
     .save(settings.lake_path(TABLE)))
    spark.stop()
    return time.monotonic() - started


def drop_table(settings: Settings) -> None:
    try:
        catalog.query(settings, "CALL lakehouse.system.unregister_table("
                                f"schema_name => 'project', table_name => '{TABLE}')")
    except Exception:  # noqa: BLE001 - not registered
        pass
    client = s3_client(settings)
    while True:
        listing = client.list_objects_v2(Bucket=settings.lake_bucket, Prefix=f"project/{TABLE}/")
        keys = [{"Key": item["Key"]} for item in listing.get("Contents", [])]
        if not keys:
            break
        client.delete_objects(Bucket=settings.lake_bucket, Delete={"Objects": keys})


def timed_runs(cursor, make_sql, runs: int, warmup: int = 3) -> list[float]:
    times = []
    for i in range(warmup + runs):
        sql = make_sql()
        started = time.perf_counter()
        cursor.execute(sql)
        rows = cursor.fetchall()
        elapsed = time.perf_counter() - started
        if not rows:
            raise SystemExit(f"no rows from: {sql}")
        if i >= warmup:
            times.append(elapsed)
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--external", action="store_true",
                        help="use the running stack of the settings; start and stop nothing")
    parser.add_argument("--keep", action="store_true", help="keep the bench table afterwards")
    args = parser.parse_args()

    settings = get_settings()
    if not args.external:
        manager.up(settings)
    results: list[tuple[str, str]] = []
    try:
        results.append((f"write {args.rows:,} rows with Spark", f"{build_table(settings, args.rows):.1f} s"))
        started = time.monotonic()
        catalog.register_table(settings, TABLE)
        results.append(("register_table", f"{time.monotonic() - started:.2f} s"))
        conn = catalog.connect(settings)
        cursor = conn.cursor()
        [[count]] = catalog.query(settings, f"SELECT count(*) FROM lakehouse.project.{TABLE}")
        assert count == args.rows, count
        rng = random.Random(1)

        def lookup() -> str:
            key = f"bench-{rng.randrange(args.rows):09d}"
            return f"SELECT * FROM lakehouse.project.{TABLE} WHERE transaction_id = '{key}'"

        week = (f"transaction_time >= TIMESTAMP '{WEEK_START} 00:00:00 UTC' "
                f"AND transaction_time < TIMESTAMP '{WEEK_START} 00:00:00 UTC' + INTERVAL '7' DAY")
        features = (f"SELECT user_id, count(*), sum(amount), avg(amount), min(amount), max(amount), "
                    f"count(DISTINCT vendor), count(DISTINCT source) "
                    f"FROM lakehouse.project.{TABLE} WHERE {week} GROUP BY user_id")
        totals = (f"SELECT count(*), sum(n), sum(total) "
                  f"FROM ({features}) AS f(user_id, n, total, a, b, c, d, e)")
        [[week_rows]] = catalog.query(
            settings, f"SELECT count(*) FROM lakehouse.project.{TABLE} WHERE {week}")
        for name, make_sql in (
            ("point lookup by transaction_id", lookup),
            (f"weekly per-user aggregate ({week_rows:,} rows in week)", lambda: features),
            ("weekly totals (one row)", lambda: totals),
        ):
            times = timed_runs(cursor, make_sql, args.runs)
            results.append((f"{name}: median of {args.runs}",
                            f"{statistics.median(times) * 1000:.0f} ms "
                            f"(min {min(times) * 1000:.0f}, max {max(times) * 1000:.0f})"))
        conn.close()
        rows = {r["name"]: r for r in manager.status(settings)}
        trino = rows.get("trino", {})
        if trino.get("pid"):
            results.append(("Trino RSS after the runs",
                            f"{process.tree_rss_bytes(trino['pid']) / 2**20:.0f} MiB"))
    finally:
        if not args.keep:
            drop_table(settings)
        if not args.external:
            manager.down(settings)

    print_table(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
