"""Fixtures for the generator tests.

Database tests run in a private schema with the source tables' columns, keys,
indexes and foreign key, selected through search_path (PGOPTIONS), so they
start empty and never touch the rows other tests or the CDC pipeline use.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg
import pytest

from txlake.settings import Settings


def _make_schema(pg: psycopg.Connection, with_tables: bool) -> str:
    name = f"gen_test_{uuid.uuid4().hex[:10]}"
    pg.execute(f"CREATE SCHEMA {name}")
    if with_tables:
        for table in ("customers", "transactions"):
            pg.execute(f"CREATE TABLE {name}.{table} (LIKE public.{table} INCLUDING ALL)")
        pg.execute(
            f"ALTER TABLE {name}.transactions ADD CONSTRAINT transactions_user_id_fkey "
            f"FOREIGN KEY (user_id) REFERENCES {name}.customers (user_id)"
        )
    return name


@pytest.fixture
def schema(pg: psycopg.Connection, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """An empty copy of the source tables; the generator writes there."""
    name = _make_schema(pg, with_tables=True)
    monkeypatch.setenv("PGOPTIONS", f"-c search_path={name}")
    pg.execute(f"SET search_path = {name}")
    try:
        yield name
    finally:
        pg.execute("RESET search_path")
        pg.execute(f"DROP SCHEMA {name} CASCADE")


@pytest.fixture
def bare_schema(pg: psycopg.Connection, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A schema without the source tables, as before the stack applied them."""
    name = _make_schema(pg, with_tables=False)
    monkeypatch.setenv("PGOPTIONS", f"-c search_path={name}")
    try:
        yield name
    finally:
        pg.execute(f"DROP SCHEMA {name} CASCADE")


@pytest.fixture
def db(stack: Settings, schema: str) -> Settings:
    """Settings whose connections land in the private schema."""
    return stack
