"""Benchmark Airflow in the native stack: idle memory, start time, one daily run.

    .venv/bin/python bench/bench_airflow.py [--count 100000] [--no-restart] [--no-run]

Works on the running stack (`txlake stack up` first): Airflow shares the stack's
ports, so it cannot start a second copy beside it.
  - idle RSS: every process of the three Airflow services (API server, scheduler
    with its LocalExecutor workers, DAG processor) summed, after 20 s of quiet;
  - start: stops the three Airflow services by their recorded PIDs and times
    `stack up` until all three are healthy again (the other services stay up);
  - daily run: `airflow dags test txlake_daily` for the first day nobody has
    generated yet (from 2025-06-02 on), with --count transactions.
Each figure is one measurement on whatever else the machine does at the time.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import print_table  # noqa: E402

from txlake.generate.load import first_free_day  # noqa: E402
from txlake.settings import get_settings  # noqa: E402
from txlake.stack import airflow, manager, process  # noqa: E402
from txlake.stack.service import Context  # noqa: E402

SEARCH_FROM = date(2025, 6, 2)


def idle_rss(ctx: Context) -> tuple[int, int]:
    """(bytes, processes) of the three services' process trees."""
    total, count = 0, 0
    for service in airflow.SERVICES:
        main = process.PidFile(ctx.run_dir, service.name).main()
        if not main or not main.alive():
            raise SystemExit(f"{service.name} is not running: txlake stack up first")
        total += process.tree_rss_bytes(main.pid)
        count += _tree_size(main.pid)
    return total, count


def _tree_size(pid: int) -> int:
    out = subprocess.run(["ps", "--ppid", str(pid), "-o", "pid="], capture_output=True, text=True)
    return 1 + sum(_tree_size(int(child)) for child in out.stdout.split())


def restart(ctx: Context) -> float:
    for service in reversed(airflow.SERVICES):
        process.stop(process.PidFile(ctx.run_dir, service.name), timeout=service.stop_timeout)
    started = time.monotonic()
    manager.up(ctx.settings)
    return time.monotonic() - started


def daily_run(ctx: Context, count: int) -> tuple[str, float, int]:
    with psycopg.connect(ctx.settings.postgres_dsn(), autocommit=True) as conn:
        day = first_free_day(conn, SEARCH_FROM)
    logical = day + timedelta(days=1)
    started = time.monotonic()
    result = subprocess.run(
        [str(airflow.airflow_bin(ctx)), "dags", "test", "txlake_daily", logical.isoformat(),
         "--conf", json.dumps({"transactions": count})],
        env=airflow.environment(ctx), cwd=airflow.home(ctx), capture_output=True, text=True)
    elapsed = time.monotonic() - started
    if result.returncode != 0:  # `airflow dags test` exits non-zero when the run failed
        tail = (result.stdout + result.stderr)[-3000:]
        print(f"txlake_daily for {logical} did not succeed:\n{tail}", file=sys.stderr)
    return logical.isoformat(), elapsed, result.returncode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000, help="transactions of the daily run")
    parser.add_argument("--no-restart", action="store_true", help="skip the start-time measure")
    parser.add_argument("--no-run", action="store_true", help="skip the daily run")
    args = parser.parse_args()
    ctx = Context(get_settings())
    rows = []
    if not args.no_restart:
        rows.append(("Airflow start (3 services, stack otherwise up)", f"{restart(ctx):.1f} s"))
    time.sleep(20)  # let start-up work settle before calling it idle
    rss, processes = idle_rss(ctx)
    rows.append((f"idle RSS, {processes} Airflow processes together", f"{rss / 2**20:.0f} MiB"))
    if not args.no_run:
        logical, elapsed, code = daily_run(ctx, args.count)
        outcome = "" if code == 0 else f" (FAILED, exit {code})"
        rows.append((f"txlake_daily {logical}, {args.count:,} transactions", f"{elapsed:.0f} s{outcome}"))
    print_table(rows)


if __name__ == "__main__":
    main()
