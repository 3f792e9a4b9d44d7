"""Airflow itself runs txlake_daily for one past day and txlake_weekly for the week
holding it, against the real stack: the daily run ends in a clean reconcile, the
weekly run leaves gold rows in Trino equal to the definition computed from the
source, and the task logs show the commands' output.

Runs go through `airflow dags test` with the stack's Airflow environment: the
DAG file as Airflow parses it, the metadata database, the task runner and its
logs, without unpausing anything (a paused DAG would not start a triggered run).
The day is one nobody generated yet; the daily count is kept small.
"""

from __future__ import annotations

import json
from datetime import date, timedelta

import psycopg
import pytest

from txlake.generate.load import first_free_day
from txlake.generate.transactions import day_prefix
from txlake.lake import catalog

pytestmark = pytest.mark.stack

COUNT = 2000
# Before any day the other suites pick, and far enough in the past for Airflow
# (it refuses runs whose logical date is in the future).
SEARCH_FROM = date(2025, 11, 3)


@pytest.fixture(scope="module")
def source(stack):
    with psycopg.connect(stack.postgres_dsn(), autocommit=True) as conn:
        yield conn


@pytest.fixture(scope="module")
def day(source) -> date:
    found = first_free_day(source, SEARCH_FROM)
    monday = found + timedelta(days=7 - found.weekday())
    assert monday < date.today(), f"no free past day left after {SEARCH_FROM}"
    return found


def _run_of(api, settings, dag_id: str, logical: date) -> dict:
    """The run of `dag_id` at `logical` (00:00 UTC), through the REST API."""
    stamp = f"{logical.isoformat()}T00:00:00Z"
    response = api.get(f"{settings.airflow_url}/api/v2/dags/{dag_id}/dagRuns", timeout=30,
                       params={"logical_date_gte": stamp, "logical_date_lte": stamp,
                               "order_by": "-start_date", "limit": 1})
    assert response.status_code == 200, response.text
    runs = response.json()["dag_runs"]
    assert runs, f"no {dag_id} run at {stamp}"
    return runs[0]


def _task_states(api, settings, dag_id: str, run_id: str) -> dict[str, str]:
    response = api.get(f"{settings.airflow_url}/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances",
                       timeout=30)
    assert response.status_code == 200, response.text
    return {ti["task_id"]: ti["state"] for ti in response.json()["task_instances"]}


@pytest.fixture(scope="module")
def daily_run(run_airflow, api, stack, day) -> dict:
    logical = day + timedelta(days=1)
    result = run_airflow("dags", "test", "txlake_daily", logical.isoformat(),
                         "--conf", json.dumps({"transactions": COUNT}))
    run = _run_of(api, stack, "txlake_daily", logical)
    assert result.returncode == 0 and run["state"] == "success", (
        f"txlake_daily for {logical}: {run['state']}\n{result.stdout[-6000:]}\n{result.stderr[-3000:]}")
    # Every task ran (a run before the DAG's start_date would have none and still "succeed").
    assert _task_states(api, stack, "txlake_daily", run["dag_run_id"]) == dict.fromkeys(
        ["ensure_customers", "generate_day", "ingest", "quality_silver", "reconcile",
         "daily_partials"], "success")
    # `dags test` writes the task logs to its own output.
    return {**run, "log": result.stdout + result.stderr}


def test_daily_run_generates_ingests_and_reconciles_the_day_before_its_date(daily_run, api, stack,
                                                                            source, day):
    prefix = day_prefix(day)
    (in_source,) = source.execute("SELECT count(*) FROM transactions WHERE starts_with(transaction_id, %s)",
                           (prefix,)).fetchone()
    assert in_source > COUNT * 0.9  # the day's inserts, less the day's own cancellations
    ((lake,),) = catalog.query(stack, "SELECT count(*) FROM lakehouse.project.transactions "
                                      f"WHERE starts_with(transaction_id, '{prefix}')")
    assert lake == in_source
    # `txlake reconcile` exits non-zero on any difference.
    assert "Running command: ['/usr/bin/bash', '-c', 'txlake reconcile']" in daily_run["log"]
    # ... and the day is aggregated ahead for the weekly run.
    assert f"txlake features --day {day.isoformat()}" in daily_run["log"]


def test_task_logs_show_the_commands_output(daily_run, day):
    log = daily_run["log"]
    assert f"txlake generate transactions --date {day.isoformat()} --count {COUNT}" in log
    # ingest's own progress lines, passed through the task log.
    assert "[txlake] cdc: Kafka holds every change" in log
    assert "Command exited with return code 0" in log


def test_generating_the_same_date_again_changes_nothing(daily_run, run_airflow, source, day):
    """Idempotent for a logical date: a retry or a re-run of generate_day skips the day."""
    prefix = day_prefix(day)
    query = "SELECT count(*), sum(amount) FROM transactions WHERE starts_with(transaction_id, %s)"
    before = source.execute(query, (prefix,)).fetchone()
    logical = (day + timedelta(days=1)).isoformat()
    result = run_airflow("tasks", "test", "txlake_daily", "generate_day", logical,
                         "--task-params", json.dumps({"transactions": COUNT}))
    assert "Command exited with return code 0" in result.stdout + result.stderr, result.stdout[-4000:]
    assert source.execute(query, (prefix,)).fetchone() == before


def test_weekly_run_writes_the_weeks_features(daily_run, run_airflow, api, stack, source, day):
    monday = day + timedelta(days=7 - day.weekday())
    result = run_airflow("dags", "test", "txlake_weekly", monday.isoformat())
    run = _run_of(api, stack, "txlake_weekly", monday)
    assert result.returncode == 0 and run["state"] == "success", (
        f"txlake_weekly for {monday}: {run['state']}\n{result.stdout[-6000:]}")
    states = _task_states(api, stack, "txlake_weekly", run["dag_run_id"])
    assert states == dict.fromkeys(["features", "quality_gold", "maintain", "feast_materialize"], "success")

    # One gold row per user with a live transaction in [monday - 7d, monday).
    (users,) = source.execute(
        "SELECT count(DISTINCT user_id) FROM transactions WHERE transaction_time >= %s "
        "AND transaction_time < %s", (monday - timedelta(days=7), monday)).fetchone()
    ((gold,),) = catalog.query(stack, "SELECT count(*) FROM lakehouse.project.features "
                                      f"WHERE as_of_date = DATE '{monday.isoformat()}'")
    assert users > 0
    assert gold == users
