"""PostgreSQL 15 from the Debian package, as a private instance of the stack."""

from __future__ import annotations

import hashlib
import os
import pwd
import shutil
import signal
import stat
import subprocess
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from txlake.errors import TxlakeError
from txlake.settings import Settings
from txlake.stack.service import Context, Launch, Service
from txlake.stack.versions import POSTGRES_MAJOR

BIN = Path(f"/usr/lib/postgresql/{POSTGRES_MAJOR}/bin")
# initdb and postgres refuse to run as root; as root we run them as this user.
OS_USER = "postgres"
SUPERUSER = "postgres"


def _running_as_root() -> bool:
    return os.geteuid() == 0


def _traversable_by_others(path: Path) -> bool:
    return all(p.stat().st_mode & stat.S_IXOTH for p in [path, *path.parents] if p.exists())


def _owner() -> tuple[int, int] | None:
    if not _running_as_root():
        return None
    entry = pwd.getpwnam(OS_USER)
    return entry.pw_uid, entry.pw_gid


class Postgres(Service):
    name = "postgres"
    # SIGINT is PostgreSQL's "fast" shutdown: roll back open transactions, exit cleanly.
    stop_signal = signal.SIGINT
    config_files = ("config/postgres/postgresql.conf",)

    def endpoint(self, settings: Settings) -> str:
        return f"postgresql://{settings.postgres_host}:{settings.postgres_port}/{settings.postgres_db}"

    def ports(self, settings: Settings) -> list[tuple[str, int]]:
        return [(settings.postgres_host, settings.postgres_port)]

    def root(self, ctx: Context) -> Path:
        """The instance's directory (data, sockets, config copy).

        As root the server runs as the `postgres` OS user, which must be able to
        reach its data directory; when the state directory sits below a private
        folder (e.g. /root) a folder under /var/lib/txlake is used instead.
        """
        preferred = ctx.data_dir(self.name)
        if not _running_as_root() or _traversable_by_others(preferred.parent.parent):
            return preferred
        digest = hashlib.sha1(str(ctx.home).encode()).hexdigest()[:12]
        return Path("/var/lib/txlake") / digest / self.name

    def data_paths(self, ctx: Context) -> list[Path]:
        return [self.root(ctx)]

    def install(self, ctx: Context) -> None:
        if not (BIN / "postgres").exists():
            raise TxlakeError(
                f"PostgreSQL {POSTGRES_MAJOR} is not installed ({BIN}/postgres missing): "
                f"apt-get install postgresql-{POSTGRES_MAJOR}"
            )

    def _socket_dir(self, ctx: Context) -> Path:
        return self.root(ctx) / "sockets"

    def _as_owner(self) -> dict[str, Any]:
        if not _running_as_root():
            return {}
        return {"user": OS_USER, "group": OS_USER, "extra_groups": []}

    def prepare(self, ctx: Context) -> Launch:
        root = self.root(ctx)
        data = root / "data"
        for path in (root, self._socket_dir(ctx)):
            path.mkdir(parents=True, exist_ok=True)
            path.chmod(0o700)
        owner = _owner()
        if owner:
            for path in (root.parent, root):
                path.chmod(0o755 if path == root.parent else 0o700)
            for path in (root, self._socket_dir(ctx)):
                os.chown(path, *owner)
        if not (data / "PG_VERSION").exists():
            self._initdb(data, ctx)
        # The shared config file, copied where the server's OS user can read it.
        config = root / "postgresql.txlake.conf"
        shutil.copyfile(ctx.config_dir / "postgres" / "postgresql.conf", config)
        if owner:
            os.chown(config, *owner)
        s = ctx.settings
        return Launch(
            command=[
                str(BIN / "postgres"), "-D", str(data),
                "-c", f"config_file={config}",
                "-c", f"hba_file={data / 'pg_hba.conf'}",
                "-c", f"ident_file={data / 'pg_ident.conf'}",
                "-c", f"listen_addresses={s.postgres_host}",
                "-c", f"port={s.postgres_port}",
                "-c", f"unix_socket_directories={self._socket_dir(ctx)}",
            ],
            env=ctx.base_env(),
            cwd=root,
            user=OS_USER if _running_as_root() else None,
        )

    def _initdb(self, data: Path, ctx: Context) -> None:
        log = ctx.log_dir / "postgres-initdb.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "w") as out:
            result = subprocess.run(
                [str(BIN / "initdb"), "-D", str(data), "-U", SUPERUSER, "-E", "UTF8",
                 "--locale=C.UTF-8",
                 # The superuser logs in only through the instance's private
                 # socket directory (mode 0700); TCP logins need a password.
                 "--auth-local=trust", "--auth-host=scram-sha-256"],
                stdout=out, stderr=subprocess.STDOUT, cwd=data.parent, **self._as_owner(),
            )
        if result.returncode != 0:
            raise TxlakeError(f"postgres: initdb failed; see {log}")

    def superuser(self, ctx: Context, dbname: str = "postgres") -> psycopg.Connection:
        return psycopg.connect(
            host=str(self._socket_dir(ctx)), port=ctx.settings.postgres_port,
            user=SUPERUSER, dbname=dbname, autocommit=True, connect_timeout=3,
        )

    def healthy(self, ctx: Context) -> bool:
        try:
            with self.superuser(ctx) as conn:
                conn.execute("SELECT 1")
            return True
        except psycopg.Error:
            return False

    def after_start(self, ctx: Context) -> None:
        """Roles and database: the source owner, Debezium's replication role and
        the login role behind Trino's read-only `source` catalog (its grants
        come with the schema, in `txlake.source.schema.apply`).

        Passwords follow `.env` on every start, so rotating a secret there is
        enough. Only a superuser may grant REPLICATION in PostgreSQL 15, which
        is why this happens here and not in `stack init`.
        """
        s = ctx.settings
        roles = [
            (s.postgres_user, s.postgres_password.get_secret_value(), sql.SQL("LOGIN CREATEDB")),
            (s.debezium_user, s.debezium_password.get_secret_value(), sql.SQL("LOGIN REPLICATION")),
            (s.trino_source_user, s.trino_source_password.get_secret_value(), sql.SQL("LOGIN")),
        ]
        with self.superuser(ctx) as conn:
            for role, password, options in roles:
                exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone()
                verb = sql.SQL("ALTER") if exists else sql.SQL("CREATE")
                conn.execute(sql.SQL("{} ROLE {} WITH {} PASSWORD {}").format(
                    verb, sql.Identifier(role), options, sql.Literal(password)))
            if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                                (s.postgres_db,)).fetchone():
                conn.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(
                    sql.Identifier(s.postgres_db), sql.Identifier(s.postgres_user)))

    def details(self, ctx: Context) -> dict[str, Any]:
        """Replication slots and how much WAL each holds back (its lag)."""
        try:
            with self.superuser(ctx) as conn:
                rows = conn.execute(
                    "SELECT slot_name, active, wal_status,"
                    " pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::bigint"
                    " FROM pg_replication_slots ORDER BY slot_name"
                ).fetchall()
        except psycopg.Error:
            return {}
        return {"slots": [
            {"slot": name, "active": active, "wal_status": wal_status, "lag_bytes": lag}
            for name, active, wal_status, lag in rows
        ]}
