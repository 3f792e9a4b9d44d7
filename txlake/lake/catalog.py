"""The lake's tables in Trino: schema `lakehouse.project`, one registration per table.

Spark creates the Delta tables by path; Trino learns about each one once, by
`CALL lakehouse.system.register_table(...)`, and from then on reads the
table's Delta log on every query, so later Spark writes show up without any
further step. `register_table` is idempotent and is called by the ingest right
after it first creates a table; `txlake stack up` also registers every lake
table that already exists (for tables created while Trino was down).
"""

from __future__ import annotations

from collections.abc import Iterable

import trino
from trino.exceptions import TrinoQueryError, TrinoUserError

from txlake.errors import TxlakeError
from txlake.settings import Settings

CATALOG = "lakehouse"
SCHEMA = "project"
# The lake tables of the design (DESIGN.md), as Trino names them.
LAKE_TABLES = ("customers", "transactions", "transactions_changelog", "customers_changelog",
               "cdc_dead_letters", "features", "quality_results")


class CatalogError(TxlakeError):
    pass


def connect(settings: Settings, **kwargs) -> trino.dbapi.Connection:
    """A DB-API connection to Trino (no password: the native stack listens on loopback)."""
    return trino.dbapi.connect(host=settings.trino_host, port=settings.trino_port,
                               user=settings.trino_user, http_scheme="http",
                               source="txlake", **kwargs)


def query(settings: Settings, sql: str, params: Iterable | None = None) -> list[list]:
    """Run one statement and return all its rows; a clear error if Trino is unreachable."""
    conn = connect(settings)
    try:
        cursor = conn.cursor()
        cursor.execute(sql, list(params) if params is not None else None)
        return cursor.fetchall()
    except TrinoQueryError:
        raise
    except Exception as error:  # connection refused, timeouts: requests/urllib3 errors
        raise CatalogError(f"trino: cannot run a query at {settings.trino_url}: {error}") from None
    finally:
        conn.close()


def schema_location(settings: Settings) -> str:
    return f"s3://{settings.lake_bucket}/{SCHEMA}"


def ensure_schema(settings: Settings) -> None:
    """CREATE SCHEMA IF NOT EXISTS lakehouse.project at s3://<bucket>/project."""
    try:
        query(settings, f"CREATE SCHEMA IF NOT EXISTS {CATALOG}.{SCHEMA} "
                        f"WITH (location = '{schema_location(settings)}')")
    except TrinoUserError as error:
        if error.error_name != "SCHEMA_ALREADY_EXISTS":  # a concurrent creator won
            raise CatalogError(f"trino: creating schema {CATALOG}.{SCHEMA} failed: "
                               f"{error.message}") from None
    except TrinoQueryError as error:
        raise CatalogError(f"trino: creating schema {CATALOG}.{SCHEMA} failed: {error.message}") from None


def registered_location(settings: Settings, table: str) -> str | None:
    """Where Trino's `lakehouse.project.<table>` points, or None if it is not registered."""
    rows = query(settings, f"SELECT 1 FROM {CATALOG}.information_schema.tables "
                           "WHERE table_schema = ? AND table_name = ?", [SCHEMA, table])
    if not rows:
        return None
    [[ddl]] = query(settings, f'SHOW CREATE TABLE {CATALOG}.{SCHEMA}."{table}"')
    for line in ddl.splitlines():
        line = line.strip()
        if line.startswith("location = '"):
            return line.split("'")[1]
    raise CatalogError(f"trino: {CATALOG}.{SCHEMA}.{table} has no location in its definition")


def register_table(settings: Settings, table: str, location: str | None = None) -> bool:
    """Make `lakehouse.project.<table>` show the Delta table at `location`
    (default s3://<bucket>/project/<table>). True if it was (re-)registered,
    False if it already was. Safe to call any number of times, also concurrently.

    A registration pointing elsewhere (a table moved or recreated under another
    path) is replaced. The Delta table must exist (its first commit written).
    """
    location = (location or settings.lake_path(table, scheme="s3")).rstrip("/")
    if not table.replace("_", "").isalnum() or "'" in location:
        raise CatalogError(f"trino: invalid table name or location: {table!r}, {location!r}")
    ensure_schema(settings)
    current = registered_location(settings, table)
    if current is not None and current.rstrip("/") == location:
        return False
    if current is not None:
        query(settings, f"CALL {CATALOG}.system.unregister_table(schema_name => '{SCHEMA}', "
                        f"table_name => '{table}')")
    try:
        query(settings, f"CALL {CATALOG}.system.register_table(schema_name => '{SCHEMA}', "
                        f"table_name => '{table}', table_location => '{location}')")
    except TrinoUserError as error:
        # Someone registered it between our check and our call: fine if it is ours.
        if error.error_name == "ALREADY_EXISTS" and registered_location(settings, table) == location:
            return False
        raise CatalogError(f"trino: registering {table} at {location} failed: {error.message}") from None
    except TrinoQueryError as error:
        raise CatalogError(f"trino: registering {table} at {location} failed: {error.message}") from None
    return True


def lake_table_exists(settings: Settings, table: str) -> bool:
    """Whether a Delta table has been created at s3://<bucket>/project/<table>."""
    from txlake.lake.storage import s3_client

    listing = s3_client(settings).list_objects_v2(
        Bucket=settings.lake_bucket, Prefix=f"{SCHEMA}/{table}/_delta_log/", MaxKeys=1)
    return listing.get("KeyCount", 0) > 0


def register_lake_tables(settings: Settings, tables: Iterable[str] = LAKE_TABLES) -> list[str]:
    """Register every lake table that exists in storage; returns those newly registered."""
    ensure_schema(settings)
    return [t for t in tables if lake_table_exists(settings, t) and register_table(settings, t)]
