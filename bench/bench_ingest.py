"""Benchmark CDC into the lake: catch-up throughput and cost versus table size.

    .venv/bin/python bench/bench_ingest.py [--changes 1000000] [--sizes 100000,1000000]

Runs against the stack the settings point at (start it with `txlake stack
up`); it adds its own days of transactions to the source and ingests them.

- catch-up: `--changes` changes (70% inserts, 20% updates, 10% deletes) are
  committed to PostgreSQL first; the figure is changes per second from the
  start of `ingest` (which first waits for Debezium to have them all in
  Kafka) until silver equals the source.
- batch cost: with silver grown to each of `--sizes` rows, the time of one
  `ingest` of a fixed 10,000-change batch (7k inserts, 2k updates, 1k deletes).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from datetime import date, timedelta

from txlake.cdc import ingest
from txlake.cdc.reconcile import reconcile
from txlake.lake.spark import session
from txlake.settings import get_settings
from txlake.source.schema import connect


def generate(day: date, inserts: int, seed: int, updates: float = 0.2 / 0.7,
             deletes: float = 0.1 / 0.7) -> float:
    started = time.monotonic()
    subprocess.run([sys.executable, "-m", "txlake", "generate", "transactions", "--date",
                    day.isoformat(), "--count", str(inserts), "--seed", str(seed),
                    "--update-share", f"{updates:.6f}", "--delete-share", f"{deletes:.6f}",
                    "--quiet"], check=True)
    return time.monotonic() - started


def source_rows(settings) -> int:
    with connect(settings) as conn:
        return conn.execute("SELECT count(*) FROM transactions").fetchone()[0]


def free_day(settings, start: date) -> date:
    """The first day from `start` on with no generated transactions yet."""
    with connect(settings) as conn:
        taken = {row[0] for row in conn.execute(
            "SELECT DISTINCT substr(transaction_id, 2, 8) FROM transactions"
            " WHERE transaction_id LIKE 't________-%'")}
    day = start
    while day.strftime("%Y%m%d") in taken:
        day += timedelta(days=1)
    return day


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--changes", type=int, default=1_000_000)
    parser.add_argument("--sizes", default="100000,1000000",
                        help="silver sizes (rows) for the fixed-batch measurement")
    args = parser.parse_args()
    settings = get_settings()
    spark = session(settings, "txlake-bench-ingest")
    subprocess.run([sys.executable, "-m", "txlake", "generate", "customers", "--count", "100000",
                    "--quiet"], check=True)
    rows: list[tuple[str, str]] = []

    ingest.run(settings)  # start from a caught-up lake
    day = free_day(settings, date(2025, 1, 1))
    inserts = int(args.changes * 0.7)
    gen = generate(day, inserts, seed=1)
    rows.append((f"generate {args.changes:,} changes into PostgreSQL", f"{gen:.1f} s"))
    result = ingest.run(settings)
    applied = sum(result.stats.changes.values())
    rows.append(("catch-up: changes applied", f"{applied:,} in {result.stats.batches} batches"))
    rows.append(("catch-up: watermark wait (Debezium catching up)",
                 f"{result.watermark_seconds:.1f} s"))
    rows.append(("catch-up: ingest wall time", f"{result.seconds:.1f} s"))
    rows.append(("catch-up: changes/s end to end", f"{applied / result.seconds:,.0f}"))
    report = reconcile(spark, settings, limit=3)
    rows.append(("reconcile after catch-up", "clean" if report["clean"] else "DIFFERENT"))

    for size in [int(s) for s in args.sizes.split(",") if s]:
        while source_rows(settings) < size:
            day = free_day(settings, day)
            missing = size - source_rows(settings)
            generate(day, min(missing, 1_000_000), seed=day.toordinal(), updates=0, deletes=0)
            ingest.run(settings)
        day = free_day(settings, day)
        generate(day, 7_000, seed=day.toordinal(), updates=2 / 7, deletes=1 / 7)
        batch = ingest.run(settings)
        rows.append((f"10k-change batch, silver ~{source_rows(settings):,} rows",
                     f"{batch.seconds:.1f} s (watermark {batch.watermark_seconds:.1f} s)"))

    width = max(len(name) for name, _ in rows)
    print(f"\n{'measure'.ljust(width)}  value")
    print(f"{'-' * width}  -----")
    for name, value in rows:
        print(f"{name.ljust(width)}  {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
