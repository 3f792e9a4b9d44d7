"""txlake_weekly: features for the week ending at the logical date, checks, upkeep, Feast.

The run whose logical date is Monday D computes the features as of D, i.e. over
the transactions of [D-7d, D) in UTC, and serves exactly that window online.

    features -> quality_gold -> maintain -> feast_materialize

Every task calls the `txlake` command line, so its log is that command's output;
endpoints come from the settings `txlake` reads, never from this file. Re-running
a week replaces that week's feature rows (never duplicates them), table
maintenance and materialization are idempotent, and the checks only read.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.providers.standard.operators.bash import BashOperator
from airflow.sdk import DAG

WEEK_START = "{{ macros.ds_add(ds, -7) }}"

with DAG(
    dag_id="txlake_weekly",
    description="Weekly user features as of Monday D, gold checks, table maintenance, Feast",
    schedule="0 0 * * 1",
    # A Monday, early enough for any backfill: Airflow gives a run no task that starts after it.
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    is_paused_upon_creation=True,
    max_active_runs=1,
    default_args={"retries": 1, "retry_delay": timedelta(minutes=2),
                  "execution_timeout": timedelta(hours=2)},
    tags=["txlake"],
    doc_md=__doc__,
) as dag:
    features = BashOperator(
        task_id="features",
        bash_command="txlake features --as-of {{ ds }}",
    )
    quality_gold = BashOperator(
        task_id="quality_gold",
        bash_command="txlake quality --layer gold --as-of {{ ds }}",
    )
    maintain = BashOperator(
        task_id="maintain",
        # Compaction, vacuum and Trino's view of the tables.
        bash_command="txlake maintain",
    )
    feast_materialize = BashOperator(
        task_id="feast_materialize",
        bash_command=f"txlake feast materialize --start {WEEK_START} --end {{{{ ds }}}}",
    )

    features >> quality_gold >> maintain >> feast_materialize
