#!/usr/bin/env python3
"""The native stack's `airflow` command, with the environment the stack gives Airflow.

    .venv/bin/python external_scripts/airflow_cli.py dags list
    .venv/bin/python external_scripts/airflow_cli.py dags test txlake_daily 2026-01-02 \\
        -c '{"transactions": 2000}'
    .venv/bin/python external_scripts/airflow_cli.py backfill create --dag-id txlake_daily \\
        --from-date 2026-01-02 --to-date 2026-01-08

Airflow lives in a virtualenv of its own (txlake/stack/airflow.py); this hands the
arguments to its `airflow` with the same AIRFLOW_HOME, metadata database, DAG
folder and PATH as the stack's Airflow processes, and exits with its code.
"""

from __future__ import annotations

import os
import sys


def main() -> None:
    from txlake.settings import get_settings
    from txlake.stack import airflow
    from txlake.stack.service import Context

    ctx = Context(get_settings())
    command = str(airflow.airflow_bin(ctx))
    if not os.path.exists(command):
        sys.exit("airflow_cli: Airflow is not installed yet: run `txlake stack install`")
    os.execve(command, [command, *sys.argv[1:]], airflow.environment(ctx))


if __name__ == "__main__":
    main()
