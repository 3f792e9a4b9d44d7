"""Benchmark CDC into the lake: catch-up throughput and cost versus table size.

    .venv/bin/python bench/bench_ingest.py [--changes 1000000] [--sizes 100000,1000000]

Runs against the stack the settings point at (start it with `txlake stack
up`); it adds its own days of transactions to the source and ingests them.

- catch-up: `--changes` changes (70% inserts, 20% updates, 10% deletes) are
  committed to PostgreSQL first; the figure is changes per second from the
  start of `ingest` (which first waits for Debezium to have them all in
  Kafka) until silver equals the source.
- batch cost: with silver grown to each of `--sizes` rows, the time of one
  `txlake ingest` of a fixed 10,000-change batch (7k inserts, 2k updates, 1k
  deletes) in a process of its own, as the daily DAG runs it. The batch's
  corrections aim at the 7 days before it, which hold 10,000 rows each at
  every size.
- stream freshness: with `txlake stream` running, single-row commits at
  `--rate` per second for `--stream-warmup` seconds, then for
  `--stream-seconds` more, measured; each change's latency is the
  commit time of the silver version that first holds it (the change data
  feed's _commit_timestamp) minus its commit time in PostgreSQL. Inserts
  only by default; `--stream-update-share` mixes in updates of earlier rows.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import time
import uuid
from datetime import date

from report import percentile, print_table

from txlake.cdc import ingest
from txlake.cdc.reconcile import reconcile
from txlake.generate.load import first_free_day
from txlake.lake import catalog
from txlake.lake.spark import session
from txlake.settings import get_settings
from txlake.source.schema import connect

# Rows of each of the 7 days before the fixed batch (see main).
RECENT_DAY_ROWS = 10_000


def generate(day: date, inserts: int, seed: int, updates: float = 0.2 / 0.7,
             deletes: float = 0.1 / 0.7) -> float:
    started = time.monotonic()
    print(txlake("generate", "transactions", "--date", day.isoformat(), "--count", str(inserts),
           "--seed", str(seed), "--update-share", f"{updates:.6f}",
           "--delete-share", f"{deletes:.6f}", "--quiet"), end="")
    return time.monotonic() - started


def txlake(*args: str) -> str:
    """`txlake ARGS` in a process of its own, which must succeed; its output."""
    return subprocess.run([sys.executable, "-m", "txlake", *args], stdout=subprocess.PIPE,
                          text=True, check=True).stdout


def fresh_ingest() -> dict:
    """`txlake ingest --json` in a process of its own, as the daily DAG runs it:
    every size is timed on an equally cold JVM (one that grew the lake warms
    up as it goes, and times the first size slowest)."""
    return json.loads(txlake("ingest", "--json"))


def source_rows(settings) -> int:
    with connect(settings) as conn:
        return conn.execute("SELECT count(*) FROM transactions").fetchone()[0]


def free_day(settings, start: date) -> date:
    with connect(settings) as conn:
        return first_free_day(conn, start)


def _visible(settings, prefix: str) -> int:
    return catalog.query(settings, "SELECT count(*) FROM lakehouse.project.transactions"
                                   f" WHERE transaction_id LIKE '{prefix}%'")[0][0]


def _change_at_rate(conn, ids: list[str], rate: float, update_share: float) -> None:
    """Insert the rows of `ids`, one commit each, at `rate` changes a second;
    with `update_share` of the changes updating a row inserted before (the
    oldest one not updated yet) instead."""
    started = time.monotonic()
    inserted: list[str] = []
    due = 0.0
    changes = 0
    for transaction_id in ids:
        due += update_share
        if due >= 1 and inserted:
            due -= 1
            conn.execute("UPDATE transactions SET amount = amount + 1,"
                         " updated_at = clock_timestamp() WHERE transaction_id = %s",
                         (inserted.pop(0),))
            changes += 1
            time.sleep(max(0.0, started + changes / rate - time.monotonic()))
        conn.execute("INSERT INTO transactions (transaction_id, user_id, amount, updated_at)"
                     " VALUES (%s, 'stream-bench', 1, clock_timestamp())", (transaction_id,))
        inserted.append(transaction_id)
        changes += 1
        time.sleep(max(0.0, started + changes / rate - time.monotonic()))


def silver_layout(spark, settings) -> str:
    """Silver transactions' files: how many, their size, the largest. The
    stream's MERGE cost follows the files its keys fall in: after a compaction
    one large file can span every key, and each MERGE then scans it."""
    from delta.tables import DeltaTable
    from pyspark.sql import DataFrame
    from pyspark.sql import functions as F

    from txlake.cdc.tables import TRANSACTIONS
    from txlake.lake import tables as lake

    # forPath loads the newest version: the snapshot below is that one.
    table = DeltaTable.forPath(spark, lake.silver(TRANSACTIONS).path(settings))
    files = DataFrame(table._jdt.deltaLog().unsafeVolatileSnapshot().allFiles().toDF(), spark)
    count, total, largest = files.agg(F.count("*"), F.sum("size"), F.max("size")).first()
    return f"{count:,} file(s), {(total or 0) / 1e6:,.1f} MB, the largest {(largest or 0) / 1e6:,.1f} MB"


def stream_freshness(settings, seconds: float, rate: float, warmup: float,
                     update_share: float) -> list[tuple[str, str]]:
    """Commit-to-visible-in-silver latency with `txlake stream` running, after
    `warmup` seconds of the same load (a stream runs for days; its first
    batches run on a JVM that has not compiled the hot code yet)."""
    # Inserts per second: the updates come on top, to make `rate` changes a second.
    inserts = rate * (1 - update_share)
    [[since]] = catalog.query(settings, 'SELECT max(version) FROM lakehouse.project'
                                        '."transactions$history"')
    log_path = settings.home / "logs" / "bench-stream.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log = open(log_path, "w")  # noqa: SIM115 - closed after the streamer ends
    print(f"stream: output of txlake stream (a timing line per micro-batch) in {log_path}")
    streamer = subprocess.Popen([sys.executable, "-m", "txlake", "stream"],
                                stdout=log, stderr=subprocess.STDOUT,
                                env={**os.environ, "STREAM_TRIGGER_SECONDS": "1"})
    run = f"stream-{uuid.uuid4().hex[:6]}-"
    prefix = f"{run}m-"  # the measured rows
    try:
        with connect(settings) as conn:
            conn.execute("INSERT INTO customers (user_id) VALUES ('stream-bench')"
                         " ON CONFLICT DO NOTHING")
            # Wait until the stream applies a first row.
            conn.execute("INSERT INTO transactions (transaction_id, user_id, amount, updated_at)"
                         " VALUES (%s, 'stream-bench', 1, clock_timestamp())", (run + "first",))
            deadline = time.monotonic() + 600
            while _visible(settings, run) < 1:
                if time.monotonic() > deadline or streamer.poll() is not None:
                    raise RuntimeError("txlake stream did not apply its first row")
                time.sleep(1)
            _change_at_rate(conn, [f"{run}w-{i:07d}" for i in range(int(warmup * inserts))],
                            rate, update_share)
            count = int(seconds * inserts)
            _change_at_rate(conn, [f"{prefix}{i:07d}" for i in range(count)], rate, update_share)
        deadline = time.monotonic() + 300
        while _visible(settings, prefix) < count:
            if time.monotonic() > deadline or streamer.poll() is not None:
                raise RuntimeError("txlake stream fell behind for good")
            time.sleep(1)
    finally:
        streamer.send_signal(signal.SIGTERM)
        streamer.wait(timeout=300)
        log.close()
    rows = catalog.query(settings, f"""
        SELECT _change_type, to_unixtime(_commit_timestamp) - to_unixtime(updated_at)
        FROM TABLE(lakehouse.system.table_changes('project', 'transactions', {since}))
        WHERE _change_type IN ('insert', 'update_postimage')
          AND transaction_id LIKE '{prefix}%'""")
    mix = f", {update_share:.0%} updates" if update_share else ", inserts only"
    measured = [
        (f"stream: changes at {rate:.0f}/s{mix}, {seconds:.0f}s (after {warmup:.0f}s of warm-up)",
         f"{len(rows):,} seen"),
        *latency_rows("stream: commit-to-silver", [float(r[1]) for r in rows]),
    ]
    if update_share:
        # New rows reach silver by an append halfway through a micro-batch,
        # updates by the MERGE at its end: the two wait differently.
        for kind, change_type in (("inserts", "insert"), ("updates", "update_postimage")):
            measured += latency_rows(f"stream: commit-to-silver, {kind} only",
                                     [float(r[1]) for r in rows if r[0] == change_type])
    return measured


def latency_rows(measure: str, latencies: list[float]) -> list[tuple[str, str]]:
    return [
        (f"{measure} median", f"{statistics.median(latencies):.2f} s"),
        (f"{measure} p95", f"{percentile(latencies, 0.95):.2f} s"),
        (f"{measure} max", f"{max(latencies):.2f} s"),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--changes", type=int, default=1_000_000)
    parser.add_argument("--sizes", default="100000,1000000",
                        help="silver sizes (rows) for the fixed-batch measurement")
    parser.add_argument("--stream-seconds", type=float, default=60.0)
    parser.add_argument("--stream-warmup", type=float, default=20.0,
                        help="seconds of load before the measured rows")
    parser.add_argument("--rate", type=float, default=500.0, help="changes/s in stream mode")
    parser.add_argument("--stream-update-share", type=float, default=0.0,
                        help="share of the stream's changes that update an earlier row"
                             " (0: inserts only, which silver appends; else it merges)")
    parser.add_argument("--only", choices=["catch-up", "sizes", "stream"], default=None)
    args = parser.parse_args()
    settings = get_settings()
    spark = session(settings, "txlake-bench-ingest")
    print(txlake("generate", "customers", "--count", "100000", "--quiet"), end="")
    rows: list[tuple[str, str]] = []
    ingest.run(settings)  # start from a caught-up lake
    day = free_day(settings, date(2025, 1, 1))

    if args.only in (None, "catch-up"):
        gen = generate(day, int(args.changes * 0.7), seed=1)
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

    sizes = [int(s) for s in args.sizes.split(",") if s] if args.only in (None, "sizes") else []
    for size in sizes:
        # Bulk days first, then a week of RECENT_DAY_ROWS a day: the batch's
        # corrections hit rows of the 7 days before it, so every size sees the
        # same neighbourhood and only the table's size differs.
        while source_rows(settings) < size - 7 * RECENT_DAY_ROWS:
            day = free_day(settings, day)
            missing = size - 7 * RECENT_DAY_ROWS - source_rows(settings)
            generate(day, min(missing, 1_000_000), seed=day.toordinal(), updates=0, deletes=0)
            ingest.run(settings)
        for _ in range(7):
            day = free_day(settings, day)
            generate(day, RECENT_DAY_ROWS, seed=day.toordinal(), updates=0, deletes=0)
        ingest.run(settings)
        day = free_day(settings, day)
        generate(day, 7_000, seed=day.toordinal(), updates=2 / 7, deletes=1 / 7)
        batch = fresh_ingest()
        rows.append((f"10k-change batch, silver ~{source_rows(settings):,} rows",
                     f"{batch['seconds']:.1f} s (watermark {batch['watermark_seconds']:.1f} s)"))

    if args.only in (None, "stream"):
        rows.append(("stream: silver transactions at the start", silver_layout(spark, settings)))
        rows += stream_freshness(settings, args.stream_seconds, args.rate, args.stream_warmup,
                                 args.stream_update_share)

    print_table(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
