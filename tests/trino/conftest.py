"""Fixtures for the Trino tests: a DB-API cursor on the stack's Trino."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from txlake.lake import catalog
from txlake.lake.storage import s3_client
from txlake.settings import Settings

pytestmark = pytest.mark.stack


@pytest.fixture
def trino_query(stack: Settings) -> Callable[[str], list[list]]:
    """Run one statement on the stack's Trino and return its rows."""
    return lambda sql: catalog.query(stack, sql)


def split_statements(path: Path) -> list[str]:
    """The statements of a .sql file (separated by ';' at the end of a line)."""
    text = "\n".join(line for line in path.read_text().splitlines()
                     if not line.lstrip().startswith("--"))
    return [s.strip().rstrip(";") for s in (text + "\n").split(";\n") if s.strip()]


@pytest.fixture
def sql_statements() -> Callable[[Path], list[str]]:
    return split_statements


@pytest.fixture
def scratch_table(stack: Settings) -> Iterator[str]:
    """A lake table name of this test only; its files and registration go afterwards."""
    name = f"trino_test_{uuid.uuid4().hex[:10]}"
    yield name
    try:
        catalog.query(stack, f"CALL lakehouse.system.unregister_table(schema_name => 'project', "
                             f"table_name => '{name}')")
    except Exception:  # noqa: BLE001 - it may never have been registered
        pass
    client = s3_client(stack)
    listing = client.list_objects_v2(Bucket=stack.lake_bucket, Prefix=f"project/{name}/")
    for item in listing.get("Contents", []):
        client.delete_object(Bucket=stack.lake_bucket, Key=item["Key"])


@pytest.fixture(scope="session")
def lake_with_data(stack: Settings, txlake_cli) -> Settings:
    """The lake holds ingested transactions (`txlake ingest` has run at least once)."""
    def lake_rows() -> int:
        try:
            return catalog.query(stack, "SELECT count(*) FROM lakehouse.project.transactions")[0][0]
        except Exception:  # noqa: BLE001 - not created or not registered yet
            return 0

    if lake_rows() == 0:
        with psycopg_conn(stack) as conn:
            if not conn.execute("SELECT 1 FROM transactions LIMIT 1").fetchone():
                pytest.fail("the source has no transactions: run `txlake generate` first")
        result = txlake_cli("ingest")
        assert result.returncode == 0, result.stderr[-2000:]
    return stack


def psycopg_conn(settings: Settings):
    import psycopg

    return psycopg.connect(settings.postgres_dsn(), autocommit=True)
