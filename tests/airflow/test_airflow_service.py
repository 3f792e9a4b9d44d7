"""Airflow as a service of the native stack: status, its own metadata database, a
small footprint, and tasks that find the project's `txlake` command."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from txlake.stack import airflow, process

pytestmark = pytest.mark.stack

NAMES = ["airflow", "airflow-scheduler", "airflow-dag-processor"]


def _environ(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(item.decode().split("=", 1) for item in raw if b"=" in item)


def _main_pid(ctx, name: str) -> int:
    main = process.PidFile(ctx.run_dir, name).main()
    assert main and main.alive(), f"{name} is not running"
    return main.pid


def test_status_lists_the_three_airflow_services_healthy(stack, txlake_cli):
    result = txlake_cli("stack", "status", "--json", timeout=120)
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    for name in NAMES:
        assert rows[name]["healthy"] is True, rows[name]
        assert rows[name]["endpoint"] == stack.airflow_url
        assert Path(rows[name]["log"]).exists()
    assert rows["airflow"]["dags"] == {"txlake_daily": "paused", "txlake_weekly": "paused"}
    assert rows["airflow"]["import_errors"] == 0
    assert stack.airflow_admin_password.get_secret_value() not in result.stdout


def test_metadata_lives_in_its_own_database_not_the_source(stack):
    with psycopg.connect(stack.postgres_dsn(), autocommit=True) as conn:
        assert conn.execute("SELECT to_regclass('public.dag')").fetchone() == (None,)
        owner = conn.execute("SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = %s",
                             (stack.airflow_db,)).fetchone()
    assert owner == (stack.postgres_user,)
    with airflow._connect(stack, stack.airflow_db) as conn:
        assert conn.execute("SELECT count(*) FROM dag WHERE dag_id LIKE 'txlake_%%'").fetchone() == (2,)


def test_the_executor_runs_as_many_workers_as_airflow_parallelism(stack, airflow_ctx):
    scheduler = _main_pid(airflow_ctx, "airflow-scheduler")
    children = subprocess.run(["ps", "--ppid", str(scheduler), "-o", "args="], capture_output=True,
                              text=True).stdout.splitlines()
    workers = [c for c in children if c.startswith("airflow worker -- LocalExecutor")]
    assert len(workers) == stack.airflow_parallelism


def test_tasks_find_this_projects_txlake_on_the_schedulers_path(airflow_ctx):
    """LocalExecutor tasks inherit the scheduler's environment: its PATH must lead to
    the txlake command of the environment that started the stack."""
    env = _environ(_main_pid(airflow_ctx, "airflow-scheduler"))
    found = subprocess.run(["bash", "-c", "command -v txlake"], capture_output=True, text=True,
                           env={"PATH": env["PATH"]}).stdout.strip()
    assert Path(found) == Path(sys.executable).parent / "txlake"
    # What txlake starts by name is txlake's too (Spark's Python workers run `python3`).
    python = subprocess.run(["bash", "-c", "command -v python3"], capture_output=True, text=True,
                            env={"PATH": env["PATH"]}).stdout.strip()
    assert Path(python).parent == Path(sys.executable).parent
    airflow_found = subprocess.run(["bash", "-c", "command -v airflow"], capture_output=True,
                                   text=True, env={"PATH": env["PATH"]}).stdout.strip()
    assert Path(airflow_found) == airflow.airflow_bin(airflow_ctx)


def test_a_heartbeat_counts_only_from_a_job_started_by_the_running_process(stack, airflow_ctx):
    started = airflow._process_started(process.PidFile(airflow_ctx.run_dir, "airflow-scheduler"))
    assert started is not None
    beat = airflow.job_heartbeat(stack, "SchedulerJob", started)
    assert beat is not None and datetime.now(UTC) - beat < airflow.HEARTBEAT_FRESH
    # A process started later than every job row (a restart whose job has not
    # beaten yet) is not healthy on an old job's heartbeat.
    assert airflow.job_heartbeat(stack, "SchedulerJob", datetime.now(UTC) + timedelta(minutes=1)) is None
