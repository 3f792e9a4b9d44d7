"""Run by the tests with the Airflow venv's python: parse docker_all/dags/ the way
Airflow does and print, as JSON, what each DAG declares and the command each
task would run for a given logical date.

    <airflow venv>/bin/python inspect_dags.py DAGS_DIR YYYY-MM-DD OUT.json

(A file, not stdout: Airflow logs to stdout while it parses.)
"""

from __future__ import annotations

import json
import sys

from airflow.dag_processing.dagbag import DagBag
from airflow.sdk.execution_time import macros


def main(folder: str, logical_date: str, target: str) -> None:
    bag = DagBag(dag_folder=folder)  # examples are off in the environment (LOAD_EXAMPLES)
    out: dict = {"import_errors": {k: str(v) for k, v in bag.import_errors.items()}, "dags": {}}
    for dag_id, dag in bag.dags.items():
        params = dag.params.dump()
        context = {"ds": logical_date, "macros": macros, "params": params}
        out["dags"][dag_id] = {
            "schedule": dag.schedule if isinstance(dag.schedule, str) else repr(dag.schedule),
            "catchup": dag.catchup,
            "is_paused_upon_creation": dag.is_paused_upon_creation,
            "max_active_runs": dag.max_active_runs,
            "params": params,
            "tasks": {t.task_id: {"upstream": sorted(t.upstream_task_ids),
                                  "depends_on_past": t.depends_on_past,
                                  "command": t.render_template(t.bash_command, context),
                                  "retries": t.retries}
                      for t in dag.tasks},
        }
    with open(target, "w") as f:
        json.dump(out, f)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3])
