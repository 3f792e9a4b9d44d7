"""The DAG files parse cleanly in Airflow and declare the contract of DESIGN.md:
ids, schedules, paused at creation, no catch-up, and the commands each task runs
for a logical date."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from txlake.stack import airflow

HERE = Path(__file__).resolve().parent

pytestmark = pytest.mark.stack


@pytest.fixture(scope="module")
def parsed(airflow_python, tmp_path_factory) -> dict:
    """What Airflow makes of docker_all/dags/, rendered for the logical date 2026-03-09 (a Monday)."""
    out = tmp_path_factory.mktemp("dags") / "dags.json"
    result = airflow_python(HERE / "inspect_dags.py", str(airflow.dags_dir()), "2026-03-09", str(out))
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(out.read_text())


def test_dag_files_import_without_errors(parsed):
    assert parsed["import_errors"] == {}
    assert set(parsed["dags"]) == {"txlake_daily", "txlake_weekly"}


@pytest.mark.parametrize("dag_id,schedule", [("txlake_daily", "0 0 * * *"),
                                             ("txlake_weekly", "0 0 * * 1")])
def test_dags_are_scheduled_paused_and_without_catchup(parsed, dag_id, schedule):
    dag = parsed["dags"][dag_id]
    assert dag["schedule"] == schedule
    assert dag["is_paused_upon_creation"] is True
    assert dag["catchup"] is False
    # One run at a time: a day's corrections touch the days before it.
    assert dag["max_active_runs"] == 1


def _chain(tasks: dict) -> list[str]:
    """The tasks in dependency order, asserting they form one straight line."""
    order = [t for t, spec in tasks.items() if not spec["upstream"]]
    assert len(order) == 1, order
    while len(order) < len(tasks):
        (following,) = [t for t, spec in tasks.items() if spec["upstream"] == [order[-1]]]
        order.append(following)
    return order


def test_daily_run_for_d_generates_and_ingests_the_day_before(parsed, stack):
    dag = parsed["dags"]["txlake_daily"]
    commands = [dag["tasks"][t]["command"] for t in _chain(dag["tasks"])]
    assert commands == [
        f"txlake generate customers --count {stack.daily_customers} --quiet",
        f"txlake generate transactions --date 2026-03-08 --count {stack.daily_transactions} --quiet",
        "txlake ingest",
        "txlake quality --layer silver --as-of 2026-03-09",
        "txlake reconcile",
        "txlake features --day 2026-03-08",
    ]
    # The defaults come from the settings the stack passed to Airflow.
    assert dag["params"] == {"transactions": stack.daily_transactions,
                             "customers": stack.daily_customers}


def test_a_day_is_generated_only_after_the_day_before_it(parsed):
    """A backfill runs as many days at once as its own max_active_runs allows;
    generate_day still waits for the previous run's, so days are written in order."""
    tasks = parsed["dags"]["txlake_daily"]["tasks"]
    assert {t for t, spec in tasks.items() if spec["depends_on_past"]} == {"generate_day"}


def test_weekly_run_for_monday_d_covers_the_week_before_it(parsed):
    dag = parsed["dags"]["txlake_weekly"]
    commands = [dag["tasks"][t]["command"] for t in _chain(dag["tasks"])]
    assert commands == [
        "txlake features --as-of 2026-03-09",
        "txlake quality --layer gold --as-of 2026-03-09",
        "txlake maintain",
        "txlake feast materialize --start 2026-03-02 --end 2026-03-09",
    ]


def test_dag_files_know_no_endpoint_or_secret(stack):
    """Endpoints come from the settings `txlake` reads: the same files run in compose."""
    secrets = [stack.postgres_password.get_secret_value(), stack.airflow_admin_password.get_secret_value()]
    for path in Path(airflow.dags_dir()).glob("*.py"):
        text = path.read_text()
        for needle in ("127.0.0.1", "localhost", ":5432", ":9000", ":8080", *secrets):
            assert needle not in text, f"{path.name} mentions {needle!r}"


def test_running_airflow_has_both_dags_paused_and_no_import_errors(api, stack):
    errors = api.get(f"{stack.airflow_url}/api/v2/importErrors", timeout=30)
    assert errors.status_code == 200, errors.text
    assert errors.json()["total_entries"] == 0, errors.json()
    for dag_id in ("txlake_daily", "txlake_weekly"):
        dag = api.get(f"{stack.airflow_url}/api/v2/dags/{dag_id}", timeout=30)
        assert dag.status_code == 200, dag.text
        assert dag.json()["is_paused"] is True, f"{dag_id} is not paused"
