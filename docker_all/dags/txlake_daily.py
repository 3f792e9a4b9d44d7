"""txlake_daily: generate one day of transactions, ingest it, check it, reconcile,
aggregate it for the weekly features.

The run whose logical date is D handles the day [D-1d, D) (UTC): the run
scheduled at midnight covers the day that just ended.

    ensure_customers -> generate_day -> ingest -> quality_silver -> reconcile
        -> daily_partials

quality_silver checks silver for the week ending at D (the day and the seven
days its corrections touch). daily_partials aggregates the day per user, so
the weekly run only combines seven partials; it also recomputes any gold week
that the day's corrections made stale.

Every task calls the `txlake` command line (the same contract the user and the
tests use), so the task log is that command's output. Endpoints and
credentials come from the settings `txlake` reads (environment > .env); this
file knows none. Each task is idempotent for a logical date: a generated day is
skipped when it exists, ingest resumes from its checkpoints, and the checks
only read. A day's corrections touch the seven days before it, so days must be
generated in date order: scheduled runs go one at a time (max_active_runs=1),
and generate_day waits for the previous run's generate_day (depends_on_past),
which also holds for a backfill, whose own max_active_runs Airflow applies
instead of the DAG's. So a backfill over a range gives the same tables as
running the days one by one.

Params (e.g. `airflow dags test txlake_daily 2026-01-02 -c '{"transactions": 2000}'`):
  transactions  inserts of the day (default: setting DAILY_TRANSACTIONS)
  customers     customers u000001..uN that must exist (default: DAILY_CUSTOMERS)
"""

from __future__ import annotations

import os
from datetime import timedelta

import pendulum
from airflow.providers.standard.operators.bash import BashOperator
from airflow.sdk import DAG, Param

# The day this run generates: the logical date minus one day.
DAY = "{{ macros.ds_add(ds, -1) }}"

with DAG(
    dag_id="txlake_daily",
    description="Generate the day [D-1d, D), ingest its changes, check silver, reconcile, "
                "aggregate the day for the weekly features",
    schedule="0 0 * * *",
    # Early enough for any backfill: Airflow gives a run no task that starts after it.
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    is_paused_upon_creation=True,
    max_active_runs=1,
    default_args={"retries": 1, "retry_delay": timedelta(minutes=2),
                  "execution_timeout": timedelta(hours=2)},
    params={
        "transactions": Param(int(os.environ.get("DAILY_TRANSACTIONS", "100000")), type="integer",
                              minimum=1, description="Inserts of the day"),
        "customers": Param(int(os.environ.get("DAILY_CUSTOMERS", "10000")), type="integer",
                           minimum=1, description="Customers u000001..uN that must exist"),
    },
    tags=["txlake"],
    doc_md=__doc__,
) as dag:
    ensure_customers = BashOperator(
        task_id="ensure_customers",
        # Writes only the customers that do not exist yet (none on most days).
        bash_command="txlake generate customers --count {{ params.customers }} --quiet",
    )
    generate_day = BashOperator(
        task_id="generate_day",
        # A day that exists already is reported as skipped (exit 0): retries never duplicate it.
        bash_command=f"txlake generate transactions --date {DAY} "
                     "--count {{ params.transactions }} --quiet",
        # Which earlier rows a day corrects depends on the days before it: never
        # generate a day before the previous run's day is written, whatever the
        # number of runs a backfill lets run at once.
        depends_on_past=True,
    )
    ingest = BashOperator(
        task_id="ingest",
        # Waits for CDC to catch up with everything committed before it started: no sleeps.
        bash_command="txlake ingest",
    )
    quality_silver = BashOperator(
        task_id="quality_silver",
        # The week ending at D: the day itself and the 7 days its corrections touch
        # (checking all of silver every day would grow with the table).
        bash_command="txlake quality --layer silver --as-of {{ ds }}",
    )
    reconcile = BashOperator(
        task_id="reconcile",
        # Exits non-zero on any difference between the source and the lake.
        bash_command="txlake reconcile",
    )

    daily_partials = BashOperator(
        task_id="daily_partials",
        # Moves the day's share of the weekly job here, where the day's data is fresh.
        bash_command=f"txlake features --day {DAY}",
    )

    ensure_customers >> generate_day >> ingest >> quality_silver >> reconcile >> daily_partials
