"""A backfill of txlake_daily over a range of past days, run by Airflow's own
scheduler, gives the same tables as running those days one by one.

The backfill may run both days at once (its own max_active_runs, which Airflow
applies instead of the DAG's), so the day-order guard is under test too:
generate_day of the second day starts only after the first day's has written
its rows. Then each day is run again on its own with `airflow dags test`, as
an operator would: the source and the lake keep exactly the rows the backfill
left (the days are written once, whoever runs them first).
"""

from __future__ import annotations

import json
import time
from datetime import date, timedelta

import psycopg
import pytest

from txlake.generate.load import day_rows_present, first_free_day
from txlake.generate.transactions import day_prefix
from txlake.lake import catalog

pytestmark = pytest.mark.stack

COUNT = 1500
# Well before the days the other Airflow tests pick, and in the past (Airflow
# creates no backfill run whose logical date is in the future).
SEARCH_FROM = date(2025, 9, 1)
TIMEOUT = 1800


@pytest.fixture(scope="module")
def source(stack):
    with psycopg.connect(stack.postgres_dsn(), autocommit=True) as conn:
        yield conn


@pytest.fixture(scope="module")
def days(source) -> tuple[date, date]:
    """Two consecutive days nobody has generated yet."""
    first = first_free_day(source, SEARCH_FROM)
    while day_rows_present(source, first + timedelta(days=1)):
        first = first_free_day(source, first + timedelta(days=2))
    return first, first + timedelta(days=1)


def _set_paused(api, settings, paused: bool) -> None:
    response = api.patch(f"{settings.airflow_url}/api/v2/dags/txlake_daily", timeout=30,
                         params={"update_mask": "is_paused"}, json={"is_paused": paused})
    assert response.status_code == 200, response.text


def _runs(api, settings, **params) -> list[dict]:
    response = api.get(f"{settings.airflow_url}/api/v2/dags/txlake_daily/dagRuns", timeout=30,
                       params={"order_by": "logical_date", "limit": 100, **params})
    assert response.status_code == 200, response.text
    return response.json()["dag_runs"]


def _wait_until_no_run_is_active(api, settings, deadline: float) -> None:
    while _runs(api, settings, state=["queued", "running"]):
        assert time.monotonic() < deadline, "txlake_daily runs still active"
        time.sleep(5)


@pytest.fixture(scope="module")
def backfill(api, stack, days) -> dict:
    """The backfill of both days through the scheduler, finished. The scheduler
    starts runs only for an unpaused DAG; switching it on also starts today's
    scheduled run (the test stack's daily defaults are small), which is let
    finish before the DAG is paused again, pass or fail."""
    first, last = days
    _set_paused(api, stack, False)
    try:
        response = api.post(f"{stack.airflow_url}/api/v2/backfills", timeout=60, json={
            "dag_id": "txlake_daily",
            "from_date": f"{first + timedelta(days=1)}T00:00:00Z",
            "to_date": f"{last + timedelta(days=1)}T00:00:00Z",
            "dag_run_conf": {"transactions": COUNT},
            "max_active_runs": 2,
            # Airflow asks for a choice with depends_on_past tasks: days that
            # failed are run again, days that succeeded are not.
            "reprocess_behavior": "failed",
        })
        assert response.status_code == 200, response.text
        backfill_id = response.json()["id"]
        deadline = time.monotonic() + TIMEOUT
        while True:
            state = api.get(f"{stack.airflow_url}/api/v2/backfills/{backfill_id}", timeout=30)
            assert state.status_code == 200, state.text
            if state.json()["completed_at"]:
                break
            assert time.monotonic() < deadline, f"backfill {backfill_id} not done after {TIMEOUT} s"
            time.sleep(5)
        _wait_until_no_run_is_active(api, stack, deadline)
    finally:
        _set_paused(api, stack, True)
    runs = _runs(api, stack, run_type=["backfill"],
                 logical_date_gte=f"{first + timedelta(days=1)}T00:00:00Z",
                 logical_date_lte=f"{last + timedelta(days=1)}T00:00:00Z")
    return {"id": backfill_id, "runs": runs}


def _task_instances(api, settings, run_id: str) -> dict[str, dict]:
    response = api.get(f"{settings.airflow_url}/api/v2/dags/txlake_daily/dagRuns/{run_id}/taskInstances",
                       timeout=30)
    assert response.status_code == 200, response.text
    return {ti["task_id"]: ti for ti in response.json()["task_instances"]}


def _fingerprint(source, settings, days: tuple[date, date]) -> dict:
    """Rows, total amount and users of each day's transactions (ids carry
    their day), and of the span from the week before the first day (which the
    corrections touch) to the last day, in the source and in silver."""
    first, last = days
    low, high = first - timedelta(days=7), last + timedelta(days=1)
    where = {**{str(day): f"starts_with(transaction_id, '{day_prefix(day)}')" for day in days},
             # {instant}: an instant literal in each system's own spelling.
             "span": f"transaction_time >= {{instant}} '{low} 00:00:00 UTC' "
                     f"AND transaction_time < {{instant}} '{high} 00:00:00 UTC'"}
    select = "SELECT count(*), sum(amount), count(DISTINCT user_id) FROM {table} WHERE {where}"
    prints = {}
    for name, condition in where.items():
        prints[f"source {name}"] = tuple(source.execute(
            select.format(table="transactions", where=condition.format(instant="TIMESTAMPTZ"))
        ).fetchone())
        (row,) = catalog.query(settings, select.format(table="lakehouse.project.transactions",
                                                       where=condition.format(instant="TIMESTAMP")))
        prints[f"silver {name}"] = tuple(row)
    return prints


def test_the_backfill_runs_every_day_of_the_range_to_success(backfill, api, stack, days):
    assert [r["logical_date"][:10] for r in backfill["runs"]] == [
        (d + timedelta(days=1)).isoformat() for d in days]
    for run in backfill["runs"]:
        tasks = _task_instances(api, stack, run["dag_run_id"])
        assert run["state"] == "success", {t: ti["state"] for t, ti in tasks.items()}
        assert {ti["state"] for ti in tasks.values()} == {"success"}, tasks.keys()


def test_the_second_day_is_generated_only_after_the_first(backfill, api, stack):
    first_run, second_run = backfill["runs"]
    first = _task_instances(api, stack, first_run["dag_run_id"])["generate_day"]
    second = _task_instances(api, stack, second_run["dag_run_id"])["generate_day"]
    assert second["start_date"] >= first["end_date"]


def test_the_lake_holds_exactly_the_source_rows_of_the_backfilled_days(backfill, source, stack, days):
    prints = _fingerprint(source, stack, days)
    for day in days:
        rows = prints[f"source {day}"][0]
        assert COUNT * 0.9 < rows <= COUNT  # the day's inserts, less its own cancellations
        assert prints[f"silver {day}"] == prints[f"source {day}"]
    assert prints["silver span"] == prints["source span"]


def test_running_the_days_one_by_one_afterwards_gives_the_same_tables(backfill, run_airflow, source,
                                                                      stack, days):
    before = _fingerprint(source, stack, days)
    for day in days:
        logical = (day + timedelta(days=1)).isoformat()
        result = run_airflow("dags", "test", "txlake_daily", logical,
                             "--conf", json.dumps({"transactions": COUNT}))
        assert result.returncode == 0, f"{logical}\n{result.stdout[-4000:]}\n{result.stderr[-2000:]}"
    assert _fingerprint(source, stack, days) == before
