"""The ready-to-run queries in scripts/sql/ run on the stack's Trino and say something."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from txlake.settings import project_root
from txlake.stack.service import Context
from txlake.stack.trino import trino_cli

pytestmark = pytest.mark.stack

SQL_DIR = project_root() / "scripts" / "sql"
SCRIPTS = sorted(p for p in SQL_DIR.glob("*.sql") if p.name != "source_schema.sql")


def test_the_promised_scripts_exist():
    assert {p.name for p in SCRIPTS} >= {"top_spenders_week.sql", "daily_volumes.sql",
                                         "source_vs_lake.sql", "changelog_time_travel.sql"}


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_script_runs_in_trino(lake_with_data, trino_query, sql_statements, script: Path):
    for statement in sql_statements(script):
        rows = trino_query(statement)
        assert rows, f"{script.name}: no rows from\n{statement}"


def test_source_vs_lake_reports_both_tables(lake_with_data, trino_query, sql_statements):
    (statement,) = sql_statements(SQL_DIR / "source_vs_lake.sql")
    rows = {row[0]: row[1:] for row in trino_query(statement)}
    assert set(rows) == {"transactions", "customers"}
    assert all(isinstance(v, int) and v >= 0 for r in rows.values() for v in r)


def test_scripts_run_with_the_trino_cli_as_documented(lake_with_data, stack):
    cli = trino_cli(Context(stack))
    result = subprocess.run([str(cli), "--server", stack.trino_url, "--output-format", "CSV_HEADER",
                             "-f", str(SQL_DIR / "top_spenders_week.sql")],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    header, *rows = result.stdout.splitlines()
    assert header.startswith('"user_id","name","transactions","total_amount"')
    assert 1 <= len(rows) <= 10
