"""Airflow of the native stack: its own CLI, REST API and DAG files, as the tests use them."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
import requests

from txlake.settings import Settings
from txlake.stack import airflow
from txlake.stack.service import Context


@pytest.fixture(scope="session")
def airflow_ctx(stack: Settings) -> Context:
    return Context(stack)


@pytest.fixture(scope="session")
def run_airflow(airflow_ctx: Context) -> Callable[..., subprocess.CompletedProcess]:
    """`airflow ...` with the Airflow venv and the environment the stack gives its processes."""

    def run(*args: str, timeout: float = 1800) -> subprocess.CompletedProcess:
        return subprocess.run([str(airflow.airflow_bin(airflow_ctx)), *args], capture_output=True,
                              text=True, timeout=timeout, env=airflow.environment(airflow_ctx),
                              cwd=airflow.home(airflow_ctx))

    return run


@pytest.fixture(scope="session")
def airflow_python(airflow_ctx: Context) -> Callable[..., subprocess.CompletedProcess]:
    """A script run with the Airflow venv's python (txlake itself is not installed there)."""

    def run(script: Path, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(airflow.venv_dir(airflow_ctx) / "bin" / "python"), str(script), *args],
                              capture_output=True, text=True, timeout=300,
                              env=airflow.environment(airflow_ctx))

    return run


@pytest.fixture(scope="session")
def login() -> Callable[..., requests.Response]:
    """POST /auth/token as AIRFLOW_ADMIN_USER: a JWT for the REST API (the simple auth manager)."""
    return _token


def _token(settings: Settings, password: str | None = None) -> requests.Response:
    return requests.post(f"{settings.airflow_url}/auth/token", timeout=30, json={
        "username": settings.airflow_admin_user,
        "password": password if password is not None else settings.airflow_admin_password.get_secret_value(),
    })


@pytest.fixture(scope="session")
def api(stack: Settings) -> requests.Session:
    """A REST API v2 session logged in as AIRFLOW_ADMIN_USER."""
    response = _token(stack)
    assert response.status_code in (200, 201), response.text
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {response.json()['access_token']}"
    return session
