"""One writer per lake table: advisory locks in the source PostgreSQL.

Delta's default S3 log store is safe only with a single writer per table, and
the driver may run anywhere (a laptop, Airflow, a cluster), so the lock lives
in a service every writer reaches: PostgreSQL. Session advisory locks vanish
with the session, so a crashed writer never leaves a stale lock behind.
"""

from __future__ import annotations

import os
import socket
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

from txlake.errors import TxlakeError
from txlake.settings import Settings

# Advisory lock keys live in one namespace per database: this classid keeps
# txlake's apart from other tools' (two-int form of pg_advisory_lock).
LOCK_CLASS = 0x7478  # "tx"


class LockTimeout(TxlakeError):
    pass


def lock_key(table: str) -> int:
    return zlib.crc32(f"txlake-lake:{table}".encode()) & 0x7FFFFFFF


def _holders(conn: psycopg.Connection, keys: list[int]) -> list[str]:
    rows = conn.execute(
        "SELECT DISTINCT a.application_name, a.backend_start FROM pg_locks l"
        " JOIN pg_stat_activity a ON a.pid = l.pid"
        " WHERE l.locktype = 'advisory' AND l.classid = %s AND l.objid = ANY(%s) AND l.granted",
        (LOCK_CLASS, keys),
    ).fetchall()
    return [f"{name or 'unknown'} (since {start:%H:%M:%S})" for name, start in rows]


@contextmanager
def lake_lock(settings: Settings, tables: list[str], purpose: str,
              timeout: float | None = None) -> Iterator[None]:
    """Hold the write lock of `tables` for the block; wait up to `timeout` seconds."""
    timeout = settings.lake_lock_timeout_seconds if timeout is None else timeout
    keys = sorted({lock_key(t) for t in tables})  # one order for everyone: no deadlock
    holder = f"txlake {purpose} pid={os.getpid()} host={socket.gethostname()}"
    try:
        conn = psycopg.connect(settings.postgres_dsn(), autocommit=True,
                               application_name=holder[:63])
    except psycopg.OperationalError as error:
        raise TxlakeError(f"postgres: cannot take the lake lock: {error}".strip()) from None
    with conn:
        deadline = time.monotonic() + timeout
        taken: list[int] = []
        announced = False
        for key in keys:
            while not conn.execute("SELECT pg_try_advisory_lock(%s, %s)",
                                   (LOCK_CLASS, key)).fetchone()[0]:
                if time.monotonic() >= deadline:
                    who = ", ".join(_holders(conn, keys)) or "another writer"
                    raise LockTimeout(
                        f"lake tables {', '.join(sorted(tables))} are being written by {who}; "
                        f"gave up after {timeout:.0f}s (LAKE_LOCK_TIMEOUT_SECONDS)")
                if not announced:
                    who = ", ".join(_holders(conn, keys)) or "another writer"
                    print(f"[txlake] waiting for the lake lock held by {who} ...", flush=True)
                    announced = True
                time.sleep(0.5)
            taken.append(key)
        try:
            yield
        finally:
            for key in taken:
                conn.execute("SELECT pg_advisory_unlock(%s, %s)", (LOCK_CLASS, key))
