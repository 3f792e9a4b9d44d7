"""The one interface every native service implements, and what they share."""

from __future__ import annotations

import os
import signal
import socket
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from txlake.settings import Settings, project_root


@dataclass(frozen=True)
class Launch:
    """How to run a service's process."""

    command: list[str]
    env: dict[str, str] = field(default_factory=dict)
    user: str | None = None  # the OS user to run as (PostgreSQL refuses root)
    cwd: Path | None = None


class Context:
    """Where one native stack keeps its state, derived from the settings."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.home = settings.home
        self.cache = settings.cache
        self.run_dir = self.home / "run"
        self.log_dir = self.home / "logs"
        self.config_dir = project_root() / "config"

    def data_dir(self, service: str) -> Path:
        return self.home / "data" / service

    def conf_dir(self, service: str) -> Path:
        """Rendered config files of a service (regenerated on every start)."""
        return self.home / "conf" / service

    def base_env(self) -> dict[str, str]:
        # Services inherit PATH, locale, JAVA_HOME ... but no txlake secrets
        # unless a service asks for one explicitly.
        return {k: v for k, v in os.environ.items() if not k.endswith(("PASSWORD", "SECRET_KEY"))}


class Service(ABC):
    """A service of the native stack: install once, prepare, start, check, stop."""

    name: str
    stop_signal: int = signal.SIGTERM
    stop_timeout: float = 30.0
    # Services that must be healthy before this one starts.
    after: tuple[str, ...] = ()
    # The project's config files the service reads (paths from the project
    # root; a directory means every file in it). The compose file mounts the
    # same ones; tests/compose/test_parity.py compares the two.
    config_files: tuple[str, ...] = ()

    @abstractmethod
    def endpoint(self, settings: Settings) -> str: ...

    @abstractmethod
    def ports(self, settings: Settings) -> list[tuple[str, int]]:
        """(host, port) pairs the service listens on."""

    @abstractmethod
    def install(self, ctx: Context) -> None:
        """Fetch or build what the service runs into the cache (idempotent)."""

    @abstractmethod
    def prepare(self, ctx: Context) -> Launch:
        """Create data directories and config files; say how to launch."""

    @abstractmethod
    def healthy(self, ctx: Context) -> bool:
        """Whether the service answers on its endpoint right now."""

    def after_start(self, ctx: Context) -> None:
        """Work once the service is healthy (e.g. roles in PostgreSQL)."""

    def details(self, ctx: Context) -> dict[str, Any]:
        """Extra facts for `stack status` (never secrets)."""
        return {}

    def data_paths(self, ctx: Context) -> list[Path]:
        """What `down --volumes` deletes."""
        return [ctx.data_dir(self.name)]

    def log_path(self, ctx: Context) -> Path:
        return ctx.log_dir / f"{self.name}.log"


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def http_json(url: str) -> object | None:
    """The JSON a health endpoint answers with, or None when it does not answer
    with a success (a starting service refuses connections or errors)."""
    try:
        response = requests.get(url, timeout=2)
        if not response.ok:
            return None
        return response.json() if response.content else {}
    except (requests.RequestException, ValueError):
        return None


def java_executable() -> str:
    home = os.environ.get("JAVA_HOME")
    if home and Path(home, "bin", "java").exists():
        return str(Path(home, "bin", "java"))
    return "java"
