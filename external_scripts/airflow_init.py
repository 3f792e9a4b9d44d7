#!/usr/bin/env python3
"""Entry point of the compose `airflow-init` service: Airflow's metadata database, once.

    python external_scripts/airflow_init.py

Creates the database AIRFLOW_DB in the stack's PostgreSQL if missing (as
POSTGRES_USER, which has CREATEDB; never the source database), writes the simple
auth manager's passwords file (AIRFLOW_ADMIN_USER with AIRFLOW_ADMIN_PASSWORD),
then runs `airflow db migrate`, which on its first run also writes airflow.cfg
with generated secrets into AIRFLOW_HOME: the shared volume the API server,
scheduler and DAG processor containers read them from. The native stack does the
same in txlake/stack/airflow.py (prepare_metadata), from the same functions.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def main() -> int:
    from txlake.settings import get_settings
    from txlake.stack.airflow import ensure_database, passwords_path, write_passwords

    settings = get_settings()
    if ensure_database(settings):
        print(f"airflow-init: created database {settings.airflow_db}", flush=True)
    write_passwords(settings, passwords_path(Path(os.environ["AIRFLOW_HOME"])))
    # `airflow` is Airflow's own command in the image (txlake's venv comes later on PATH).
    return subprocess.run(["airflow", "db", "migrate"]).returncode


if __name__ == "__main__":
    sys.exit(main())
