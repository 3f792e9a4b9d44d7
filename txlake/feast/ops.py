"""Operations on the Feast repo: what `txlake feast ...`, the demo and the weekly DAG call."""

from __future__ import annotations

import contextlib
import os
import sys
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import TYPE_CHECKING

from txlake.artifacts import say
from txlake.errors import TxlakeError
from txlake.settings import Settings, project_root

if TYPE_CHECKING:
    from feast import FeatureStore

VIEWS = ("user_weekly_features", "customer_profile")
WEEKLY_FEATURES = ("num_transactions_l1w", "total_amount_l1w", "avg_amount_l1w", "min_amount_l1w",
                   "max_amount_l1w", "num_vendors_l1w", "num_sources_l1w")
PROFILE_FEATURES = ("age", "gender", "location", "occupation")


class FeastError(TxlakeError):
    pass


def repo_path() -> Path:
    return project_root() / "feature_store"


def state_dir(settings: Settings) -> Path:
    """Feast's registry and SQLite online store (wiped by `stack down --volumes`)."""
    return settings.home / "feast"


def export_environment(settings: Settings) -> None:
    """Put the settings in this process's environment, where feature_store.yaml reads them.

    TXLAKE_HOME goes in relative to the project root, the form the yaml's
    `../${TXLAKE_HOME}` expects, wherever the state directory is.
    """
    os.environ.update(settings.as_env(reveal=True))
    os.environ["TXLAKE_HOME"] = os.path.relpath(settings.home, project_root())


def store(settings: Settings) -> FeatureStore:
    """`FeatureStore(repo_path="feature_store")` with the settings in the environment."""
    from feast import FeatureStore

    export_environment(settings)
    return FeatureStore(repo_path=str(repo_path()))


def repo_config(settings: Settings, state: Path, project: str, online_store: str | None = None):
    """The repo's configuration with its own registry, SQLite file and project name:
    a store beside the real one, for benchmarks and tests of a copied table."""
    import yaml
    from feast.repo_config import RepoConfig

    export_environment(settings)
    raw = yaml.safe_load(os.path.expandvars((repo_path() / "feature_store.yaml").read_text()))
    raw["project"] = project
    raw["registry"]["path"] = str(state / "registry.db")
    raw["online_store"]["sqlite_path"] = str(state / "online.db")
    if online_store:
        raw["online_store"]["backend"] = online_store
    return RepoConfig(repo_path=repo_path(), **raw)


def ensure_online_database(settings: Settings) -> bool:
    """CREATE DATABASE FEAST_POSTGRES_DB if the postgres online store needs it. True if created."""
    if settings.feast_online_store != "postgres":
        return False
    import psycopg
    from psycopg import sql

    try:
        with psycopg.connect(settings.postgres_dsn(), autocommit=True) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                                  [settings.feast_postgres_db]).fetchone()
            if exists:
                return False
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(settings.feast_postgres_db)))
            return True
    except psycopg.errors.DuplicateDatabase:  # a concurrent apply created it
        return False
    except psycopg.OperationalError as error:
        raise FeastError(f"postgres: cannot reach {settings.postgres_host}:{settings.postgres_port} "
                         f"for the Feast online store: {str(error).strip().splitlines()[0]}") from None


def apply(settings: Settings) -> dict:
    """Register the definitions in feature_store/ and create the online tables."""
    import importlib.util

    created = ensure_online_database(settings)
    state_dir(settings).mkdir(parents=True, exist_ok=True)
    fs = store(settings)
    spec = importlib.util.spec_from_file_location("txlake_feast_definitions",
                                                  repo_path() / "definitions.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    objects = [module.user, module.user_weekly_features, module.customer_profile]
    fs.apply(objects)
    return {"project": fs.project, "online_store": settings.feast_online_store,
            "database_created": created, "entities": ["user"], "feature_views": list(VIEWS),
            "registry": str(state_dir(settings) / "registry.db")}


def parse_day(value: str, name: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise FeastError(f"{name} must be a date YYYY-MM-DD (got {value!r})") from None


def materialize(settings: Settings, start: date, end: date,
                views: tuple[str, ...] = VIEWS) -> dict:
    """Copy the newest feature rows stamped in [start 00:00, end 00:00] UTC to the online store.

    Driven by dates, not the clock, so a backfill materializes its own window.
    Idempotent: the same window again writes the same values; an older window
    never replaces newer values (the online upsert keeps the newest event time).
    """
    import time as clock

    if end < start:
        raise FeastError(f"--end ({end}) is before --start ({start})")
    unknown = [v for v in views if v not in VIEWS]
    if unknown:
        raise FeastError(f"feature view(s) {', '.join(unknown)} are not in {repo_path()}")
    fs = store(settings)
    missing = [v for v in views if v not in registered_views(fs)]
    if missing:
        # A fresh stack whose weekly DAG runs before anyone applied the repo:
        # registering it is idempotent, so do it rather than fail the run.
        say(f"feast: {', '.join(missing)} not registered yet: applying {repo_path()} first")
        apply(settings)
        fs = store(settings)
    started = clock.monotonic()
    begin = datetime.combine(start, time(0), tzinfo=UTC)
    finish = datetime.combine(end, time(0), tzinfo=UTC)
    # Feast prints its progress on stdout, which belongs to --json output.
    with contextlib.redirect_stdout(sys.stderr):
        fs.materialize(begin, finish, feature_views=list(views))
    return {"start": begin.isoformat(), "end": finish.isoformat(), "feature_views": list(views),
            "online_store": settings.feast_online_store,
            "seconds": round(clock.monotonic() - started, 3)}


def registered_views(fs: FeatureStore) -> set[str]:
    try:
        return {v.name for v in fs.list_feature_views()}
    except FileNotFoundError:  # Feast's answer when no registry file exists yet
        return set()


def online(settings: Settings, users: list[str]) -> list[dict]:
    """The online features of `users`, one dict per user."""
    fs = store(settings)
    refs = [f"user_weekly_features:{f}" for f in WEEKLY_FEATURES] + \
           [f"customer_profile:{f}" for f in PROFILE_FEATURES]
    result = fs.get_online_features(features=refs, entity_rows=[{"user_id": u} for u in users])
    columns = result.to_dict()
    return [{name: values[i] for name, values in columns.items()} for i in range(len(users))]
