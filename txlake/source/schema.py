"""The operational source database: schema, Debezium's grants and publication."""

from __future__ import annotations

import psycopg
from psycopg import sql

from txlake.errors import TxlakeError
from txlake.settings import Settings, project_root

SCHEMA_FILE = project_root() / "scripts" / "sql" / "source_schema.sql"
# What Debezium captures (the publication) and may read (its snapshot).
CAPTURED_TABLES = ("customers", "transactions", "txlake_watermark")


def connect(settings: Settings) -> psycopg.Connection:
    try:
        return psycopg.connect(settings.postgres_dsn(), autocommit=True)
    except psycopg.OperationalError as error:
        reason = str(error).strip().splitlines()[-1] if str(error).strip() else type(error).__name__
        raise TxlakeError(
            f"postgres: cannot connect to {settings.postgres_host}:{settings.postgres_port}"
            f" as {settings.postgres_user}: {reason}"
        ) from None


def apply(settings: Settings) -> None:
    """Create the schema, Debezium's grants and the publication (idempotent)."""
    with connect(settings) as conn:
        conn.execute(SCHEMA_FILE.read_text())
        _ensure_debezium_role(conn, settings)
        role = sql.Identifier(settings.debezium_user)
        conn.execute(sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(
            sql.Identifier(settings.postgres_db), role))
        conn.execute(sql.SQL("GRANT USAGE ON SCHEMA public TO {}").format(role))
        tables = sql.SQL(", ").join(sql.Identifier(t) for t in CAPTURED_TABLES)
        conn.execute(sql.SQL("GRANT SELECT ON {} TO {}").format(tables, role))
        _ensure_publication(conn, settings.cdc_publication)
        _grant_reader(conn, settings)


def _ensure_debezium_role(conn: psycopg.Connection, settings: Settings) -> None:
    """The native stack creates the role as superuser; a compose stack's owner
    is a superuser itself and creates it here. Anyone else gets a clear error."""
    if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s",
                    (settings.debezium_user,)).fetchone():
        return
    try:
        conn.execute(sql.SQL("CREATE ROLE {} WITH LOGIN REPLICATION PASSWORD {}").format(
            sql.Identifier(settings.debezium_user),
            sql.Literal(settings.debezium_password.get_secret_value())))
    except psycopg.errors.InsufficientPrivilege:
        raise TxlakeError(
            f"postgres: role {settings.debezium_user} is missing and {settings.postgres_user}"
            " may not create it; create it with LOGIN REPLICATION as a superuser"
        ) from None


def _grant_reader(conn: psycopg.Connection, settings: Settings) -> None:
    """The SELECT-only role Trino's `source` catalog logs in with: it reads every
    table of the public schema (also tables created later) and changes nothing."""
    reader = sql.Identifier(settings.trino_source_user)
    if not conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s",
                        (settings.trino_source_user,)).fetchone():
        # Natively the superuser creates it on start; a compose owner is a superuser.
        try:
            conn.execute(sql.SQL("CREATE ROLE {} WITH LOGIN PASSWORD {}").format(
                reader, sql.Literal(settings.trino_source_password.get_secret_value())))
        except psycopg.errors.InsufficientPrivilege:
            raise TxlakeError(
                f"postgres: role {settings.trino_source_user} is missing and {settings.postgres_user}"
                " may not create it; create it with LOGIN as a superuser"
            ) from None
    conn.execute(sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(
        sql.Identifier(settings.postgres_db), reader))
    conn.execute(sql.SQL("GRANT USAGE ON SCHEMA public TO {}").format(reader))
    conn.execute(sql.SQL("GRANT SELECT ON ALL TABLES IN SCHEMA public TO {}").format(reader))
    conn.execute(sql.SQL("ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO {}")
                 .format(reader))


def _ensure_publication(conn: psycopg.Connection, name: str) -> None:
    # Created by the tables' owner so Debezium needs no ownership rights itself.
    present = {row[0] for row in conn.execute(
        "SELECT tablename FROM pg_publication_tables WHERE pubname = %s", (name,))}
    exists = conn.execute("SELECT 1 FROM pg_publication WHERE pubname = %s", (name,)).fetchone()
    missing = [t for t in CAPTURED_TABLES if t not in present]
    if not missing:
        return
    tables = sql.SQL(", ").join(sql.Identifier(t) for t in missing)
    verb = "ALTER PUBLICATION {} ADD TABLE {}" if exists else "CREATE PUBLICATION {} FOR TABLE {}"
    conn.execute(sql.SQL(verb).format(sql.Identifier(name), tables))
