"""Airflow 3 (the daily and weekly DAGs): API server, scheduler and DAG processor.

Airflow lives in a virtualenv of its own, built from the lock file
`requirements-airflow.txt` into `$TXLAKE_CACHE/venvs/airflow-<hash of the lock>`
(its dependencies clash with txlake's, and a new lock simply builds a new venv).

Three processes, each a service of the stack so that every PID is recorded,
checked and restarted on its own: `airflow` (the API server and UI on
AIRFLOW_URL's port), `airflow-scheduler` (with the LocalExecutor, which runs the
tasks) and `airflow-dag-processor` (parses docker_all/dags/). They start side by
side, which is faster than `airflow standalone` and leaves out the triggerer
(no txlake task defers). Memory stays low: one API worker, AIRFLOW_PARALLELISM
executor workers, one parsing process.

The metadata database is a database of its own (AIRFLOW_DB) in the stack's
PostgreSQL, created by the POSTGRES_USER role (it has CREATEDB), never the
source database. Login: Airflow's simple auth manager with the one user
AIRFLOW_ADMIN_USER, whose password (AIRFLOW_ADMIN_PASSWORD from .env) is written
to the passwords file the manager reads, on every start (mode 0600).

Tasks find `txlake` on PATH: the processes get the txlake environment's `bin`
(the Python running `txlake stack up`) first, then Airflow's own. DAG files know
endpoints only from the settings the `txlake` command reads.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import psycopg
from psycopg import sql

from txlake import artifacts
from txlake.errors import TxlakeError
from txlake.settings import Settings, project_root
from txlake.stack import process
from txlake.stack.service import Context, Launch, Service, http_json

AIRFLOW_VERSION = "3.3.2"
LOCK_PYTHON = (3, 11)  # the interpreter the lock was made with
# A scheduler or DAG processor whose last heartbeat is older than this is dead
# or stuck (Airflow's own health threshold for both is 30 s).
HEARTBEAT_FRESH = timedelta(seconds=30)


def lock_file() -> Path:
    return project_root() / "requirements-airflow.txt"


def dags_dir() -> Path:
    """The DAG files, shared with the compose file (mounted into its Airflow)."""
    return project_root() / "docker_all" / "dags"


def venv_dir(ctx: Context) -> Path:
    digest = hashlib.sha256(lock_file().read_bytes()).hexdigest()[:12]
    return ctx.cache / "venvs" / f"airflow-{digest}"


def airflow_bin(ctx: Context) -> Path:
    return venv_dir(ctx) / "bin" / "airflow"


def install_venv(ctx: Context) -> Path:
    """Build Airflow's virtualenv from the lock once; progress on stderr."""
    venv = venv_dir(ctx)
    marker = venv.with_name(venv.name + ".complete")
    if marker.exists() and (venv / "bin" / "airflow").exists():
        return venv
    if sys.version_info[:2] != LOCK_PYTHON:
        raise TxlakeError(
            f"airflow: {lock_file().name} was locked on Python {'.'.join(map(str, LOCK_PYTHON))}, "
            f"but txlake runs on {sys.version.split()[0]}; run txlake with Python 3.11")
    started = time.monotonic()
    artifacts.say(f"airflow: building its virtualenv {venv} (first run only, about a minute) ...")
    # A venv cannot be moved after creation (absolute paths in its scripts):
    # build in place and mark it complete only at the end.
    subprocess.run(["rm", "-rf", str(venv)], check=True)
    venv.parent.mkdir(parents=True, exist_ok=True)
    log = venv.parent / f"{venv.name}-install.log"
    with open(log, "w") as out:
        result = subprocess.run([sys.executable, "-m", "venv", str(venv)], stdout=out,
                                stderr=subprocess.STDOUT)
        if result.returncode == 0:
            result = _pip_install(venv, log, out)
    if result.returncode != 0:
        raise TxlakeError(f"airflow: building its virtualenv failed (exit {result.returncode}); "
                          f"see {log}")
    marker.write_text(lock_file().name)
    artifacts.say(f"airflow: virtualenv ready in {time.monotonic() - started:.0f}s")
    return venv


def _pip_install(venv: Path, log: Path, out: Any) -> subprocess.CompletedProcess:
    pinned = [line for line in lock_file().read_text().splitlines()
              if line.strip() and not line.startswith("#")]
    command = [str(venv / "bin" / "python"), "-m", "pip", "install", "--disable-pip-version-check",
               "--progress-bar", "off", "-r", str(lock_file())]
    pip = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert pip.stdout is not None
    seen, last = 0, time.monotonic()
    for line in pip.stdout:
        out.write(line)
        if line.startswith("Collecting "):
            seen += 1
            if time.monotonic() - last > 5:
                last = time.monotonic()
                artifacts.say(f"  airflow: {seen}/{len(pinned)} packages fetched")
        elif line.startswith("Installing collected packages"):
            artifacts.say(f"  airflow: installing {len(pinned)} packages ...")
    return subprocess.CompletedProcess(command, pip.wait())


def home(ctx: Context) -> Path:
    """AIRFLOW_HOME: airflow.cfg (with the secrets Airflow generates), logs, passwords."""
    return ctx.data_dir("airflow")


def passwords_file(ctx: Context) -> Path:
    return passwords_path(home(ctx))


def passwords_path(airflow_home: Path) -> Path:
    """Where the simple auth manager reads its passwords by default (both stacks use it)."""
    return airflow_home / "simple_auth_manager_passwords.json.generated"


def metadata_url(settings: Settings, host: str | None = None, port: int | None = None) -> str:
    """SQLAlchemy URL of the metadata database (carries the password: environment only)."""
    password = quote(settings.postgres_password.get_secret_value(), safe="")
    return (f"postgresql+psycopg2://{quote(settings.postgres_user, safe='')}:{password}@"
            f"{host or settings.postgres_host}:{port or settings.postgres_port}/{settings.airflow_db}")


def api_host(settings: Settings) -> str:
    """Where the API server listens: AIRFLOW_URL's host (loopback by default)."""
    return urlsplit(settings.airflow_url).hostname or "127.0.0.1"


def shared_config(settings: Settings) -> dict[str, str]:
    """Airflow settings both stacks use (the compose file sets the same; a test compares)."""
    return {
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__PARALLELISM": str(settings.airflow_parallelism),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
        "AIRFLOW__CORE__AUTH_MANAGER":
            "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{settings.airflow_admin_user}:admin",
        "AIRFLOW__API__WORKERS": "1",
        "AIRFLOW__API__PORT": str(settings.airflow_port),
        "AIRFLOW__API__BASE_URL": settings.airflow_url,
        "AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES": "1",
        # New DAG files are picked up within a minute (default: 5 minutes).
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "60",
        "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
    }


def dag_settings(settings: Settings) -> dict[str, str]:
    """The settings DAG files read when they are parsed (defaults of their params)."""
    return {"DAILY_TRANSACTIONS": str(settings.daily_transactions),
            "DAILY_CUSTOMERS": str(settings.daily_customers)}


def task_settings(settings: Settings) -> dict[str, str]:
    """The credentials the tasks' `txlake` commands use, given to Airflow explicitly (the
    compose file passes the same): the source owner, the object store and Trino's user.
    Debezium's and Trino's source-reader secrets stay out of Airflow."""
    return {
        "POSTGRES_USER": settings.postgres_user,
        "POSTGRES_PASSWORD": settings.postgres_password.get_secret_value(),
        "S3_ACCESS_KEY": settings.s3_access_key,
        "S3_SECRET_KEY": settings.s3_secret_key.get_secret_value(),
        "TRINO_USER": settings.trino_user,
    }


def environment(ctx: Context) -> dict[str, str]:
    """The environment of every Airflow process (and of `airflow` commands run by tests)."""
    s = ctx.settings
    venv_bin = str(venv_dir(ctx) / "bin")
    # The txlake environment first: tasks run `txlake`, and whatever it starts by
    # name (`python3` for Spark's Python workers, say) must be txlake's too.
    # Airflow's own processes start by absolute path; its `airflow` comes next.
    txlake_bin = str(Path(sys.executable).parent)
    path = os.pathsep.join([txlake_bin, venv_bin, os.environ.get("PATH", "/usr/bin:/bin")])
    return {
        **ctx.base_env(),
        **shared_config(s),
        **dag_settings(s),
        **task_settings(s),
        "PATH": path,
        "AIRFLOW_HOME": str(home(ctx)),
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags_dir()),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": metadata_url(s),
        "AIRFLOW__API__HOST": api_host(s),
        # The task logs stay files the API server reads directly.
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home(ctx) / "logs"),
        # Tasks run with the same state directory and checkout as the stack.
        "TXLAKE_HOME": str(s.home),
        "TXLAKE_PROJECT_DIR": str(project_root()),
        "PYTHONUNBUFFERED": "1",
    }


def _connect(settings: Settings, dbname: str) -> psycopg.Connection:
    return psycopg.connect(host=settings.postgres_host, port=settings.postgres_port,
                           user=settings.postgres_user,
                           password=settings.postgres_password.get_secret_value(),
                           dbname=dbname, autocommit=True, connect_timeout=3)


def ensure_database(settings: Settings) -> bool:
    """Create the metadata database if missing (owned by POSTGRES_USER). True if created."""
    with _connect(settings, settings.postgres_db) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                        (settings.airflow_db,)).fetchone():
            return False
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(settings.airflow_db)))
        return True


def _schema_revision(settings: Settings) -> str | None:
    try:
        with _connect(settings, settings.airflow_db) as conn:
            row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    except psycopg.Error:
        return None
    return row[0] if row else None


def prepare_metadata(ctx: Context) -> None:
    """Database, schema and passwords file: quick when done before.

    `airflow db migrate` costs ~5 s even when there is nothing to do, so it runs
    only when the schema revision differs from the one recorded after the last
    migration with this Airflow venv.
    """
    s = ctx.settings
    airflow_home = home(ctx)
    airflow_home.mkdir(parents=True, exist_ok=True)
    airflow_home.chmod(0o700)  # airflow.cfg holds the secrets Airflow generated
    write_passwords(s, passwords_file(ctx))
    if ensure_database(s):
        artifacts.say(f"airflow: created database {s.airflow_db}")
    marker = airflow_home / "migrated"
    wanted = f"{venv_dir(ctx).name}:{{}}"
    revision = _schema_revision(s)
    if revision and marker.exists() and marker.read_text() == wanted.format(revision):
        return
    artifacts.say(f"airflow: migrating its metadata database {s.airflow_db} ...")
    log = ctx.log_dir / "airflow-migrate.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "w") as out:
        result = subprocess.run([str(airflow_bin(ctx)), "db", "migrate"], stdout=out,
                                stderr=subprocess.STDOUT, env=environment(ctx), cwd=airflow_home)
    if result.returncode != 0:
        raise TxlakeError(f"airflow: db migrate failed (exit {result.returncode}); see {log}")
    marker.write_text(wanted.format(_schema_revision(s)))


def write_passwords(settings: Settings, path: Path) -> None:
    """The simple auth manager's passwords file: AIRFLOW_ADMIN_USER with the .env password.

    Rewritten on every start, so a password changed in .env takes effect on restart."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)
    path.write_text(json.dumps({settings.airflow_admin_user:
                                settings.airflow_admin_password.get_secret_value()}))


def _process_started(pidfile: process.PidFile) -> datetime | None:
    """When the recorded process started (from /proc), or None if it is not running."""
    main = pidfile.main()
    if not main or not main.alive():
        return None
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith("btime "):
            boot = int(line.split()[1])
            return datetime.fromtimestamp(boot + main.ticks / os.sysconf("SC_CLK_TCK"), UTC)
    return None


def job_heartbeat(settings: Settings, job_type: str, since: datetime) -> datetime | None:
    """The latest heartbeat of a running Airflow job of this type started after `since`."""
    try:
        with _connect(settings, settings.airflow_db) as conn:
            row = conn.execute(
                "SELECT max(latest_heartbeat) FROM job WHERE job_type = %s AND state = 'running' "
                "AND start_date >= %s", (job_type, since - timedelta(seconds=2))).fetchone()
    except psycopg.Error:
        return None
    return row[0] if row else None


class _AirflowProcess(Service):
    """What the three Airflow services share: the venv, the metadata, the environment."""

    after = ("postgres",)
    stop_timeout = 30.0
    config_files = ("docker_all/dags",)

    def endpoint(self, settings: Settings) -> str:
        return settings.airflow_url

    def ports(self, settings: Settings) -> list[tuple[str, int]]:
        return []

    def install(self, ctx: Context) -> None:
        install_venv(ctx)

    def data_paths(self, ctx: Context) -> list[Path]:
        return [home(ctx)]

    def launch(self, ctx: Context, *args: str) -> Launch:
        prepare_metadata(ctx)
        return Launch(command=[str(airflow_bin(ctx)), *args], env=environment(ctx), cwd=home(ctx))


class Airflow(_AirflowProcess):
    """The API server: REST API v2, the UI, and the execution API tasks report to."""

    name = "airflow"

    def ports(self, settings: Settings) -> list[tuple[str, int]]:
        return [(api_host(settings), settings.airflow_port)]

    def prepare(self, ctx: Context) -> Launch:
        return self.launch(ctx, "api-server")

    def healthy(self, ctx: Context) -> bool:
        health = http_json(f"{ctx.settings.airflow_url}/api/v2/monitor/health")
        return (isinstance(health, dict)
                and health.get("metadatabase", {}).get("status") == "healthy")

    def details(self, ctx: Context) -> dict[str, Any]:
        s = ctx.settings
        out: dict[str, Any] = {"ui": s.airflow_url, "user": s.airflow_admin_user,
                               "version": AIRFLOW_VERSION}
        try:
            with _connect(s, s.airflow_db) as conn:
                out["dags"] = {dag_id: ("paused" if paused else "active") for dag_id, paused in
                               conn.execute("SELECT dag_id, is_paused FROM dag WHERE is_stale = false "
                                            "ORDER BY dag_id").fetchall()}
                out["import_errors"] = conn.execute(
                    "SELECT count(*) FROM import_error").fetchone()[0]  # type: ignore[index]
        except psycopg.Error:
            pass
        return out


class _HeartbeatService(_AirflowProcess):
    """A process that proves it works by heartbeats in the metadata database."""

    job_type: str

    def healthy(self, ctx: Context) -> bool:
        # Healthy only with a heartbeat from *this* process's job (started after
        # it), fresh enough: a job row left by a killed predecessor never counts.
        started = _process_started(process.PidFile(ctx.run_dir, self.name))
        if started is None:
            return False
        beat = job_heartbeat(ctx.settings, self.job_type, started)
        return beat is not None and datetime.now(UTC) - beat < HEARTBEAT_FRESH


class AirflowScheduler(_HeartbeatService):
    name = "airflow-scheduler"
    job_type = "SchedulerJob"

    def prepare(self, ctx: Context) -> Launch:
        # Task logs are files the API server reads itself: no log server needed.
        return self.launch(ctx, "scheduler", "--skip-serve-logs")


class AirflowDagProcessor(_HeartbeatService):
    name = "airflow-dag-processor"
    job_type = "DagProcessorJob"

    def prepare(self, ctx: Context) -> Launch:
        return self.launch(ctx, "dag-processor")


SERVICES: tuple[Service, ...] = (Airflow(), AirflowScheduler(), AirflowDagProcessor())
