"""Session-wide fixtures: one real native stack for the whole test session.

By default the session starts the native stack in a fresh state directory
(`.txlake-test/` in the project root, wiped first) and stops every process it
started when the session ends, pass or fail. With TXLAKE_TEST_STACK=external
the tests use whatever the settings point at (a compose stack, a stack you
started yourself) and neither start nor stop anything.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator

import psycopg
import pytest

from txlake.settings import Settings, get_settings, project_root

EXTERNAL = os.environ.get("TXLAKE_TEST_STACK") == "external"


def pytest_configure(config: pytest.Config) -> None:
    if not EXTERNAL:
        # Before anything reads the settings: the test stack has its own state.
        os.environ.setdefault("TXLAKE_HOME", str(project_root() / ".txlake-test"))
        # Switching txlake_daily on (the backfill test) also starts today's
        # scheduled run with the DAG's defaults: keep that run small.
        os.environ.setdefault("DAILY_TRANSACTIONS", "2000")
        os.environ.setdefault("DAILY_CUSTOMERS", "1000")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # The demo is what a newcomer runs on a fresh machine: give it the fresh
    # stack, before the other tests add their own data.
    items.sort(key=lambda item: item.get_closest_marker("demo") is None)


@pytest.fixture(scope="session")
def settings() -> Settings:
    return get_settings()


@pytest.fixture(scope="session")
def stack(settings: Settings) -> Iterator[Settings]:
    """The running stack (PostgreSQL, Kafka, Connect + Debezium, MinIO)."""
    if EXTERNAL:
        yield settings
        return
    from txlake.stack import manager

    manager.down(settings, volumes=True)
    shutil.rmtree(settings.home, ignore_errors=True)
    try:
        manager.up(settings)
        yield settings
    finally:
        manager.down(settings)


@pytest.fixture(scope="session")
def spark(stack: Settings):
    """One Spark session for all tests that use Spark in this process (a JVM
    start is the slowest thing a test could repeat)."""
    from txlake.lake.spark import session

    return session(stack, "txlake-tests")


@pytest.fixture(scope="session")
def txlake_cli():
    """Runs `txlake ARGS` in a process of its own, as a user or an Airflow task
    does: `txlake_cli(*args, timeout=seconds, NAME=value...)` adds NAME=value
    to the environment and returns the finished process, output captured."""
    def run(*args: str, timeout: float = 1800, **env: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "txlake", *args], capture_output=True,
                              text=True, timeout=timeout, env={**os.environ, **env})

    return run


@pytest.fixture(scope="session")
def ingest_now(stack: Settings, spark):
    """`txlake ingest` in this process (the Spark session stays warm), with any
    settings given overridden: `ingest_now(ingest_max_batch_records=1000)`."""
    from txlake.cdc import ingest

    return lambda **overrides: ingest.run(stack.model_copy(update=overrides))


@pytest.fixture
def pg(stack: Settings) -> Iterator[psycopg.Connection]:
    """An autocommit connection to the source database as its owner."""
    with psycopg.connect(stack.postgres_dsn(), autocommit=True) as conn:
        yield conn


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture
def browser_page():
    """A page in Debian's headless Chromium, driven by Playwright (never
    `playwright install`: that downloads a browser from outside the registries)."""
    from playwright.sync_api import sync_playwright

    if not shutil.which(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium", pytrace=False)
    profile = tempfile.mkdtemp(prefix="txlake-chromium-")
    try:
        with sync_playwright() as playwright:
            # A persistent context on a fresh, throw-away profile (--user-data-dir).
            context = playwright.chromium.launch_persistent_context(
                profile, executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            try:
                yield context.new_page()
            finally:
                context.close()
    finally:
        shutil.rmtree(profile, ignore_errors=True)
