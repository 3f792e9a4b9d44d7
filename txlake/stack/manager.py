"""`txlake stack up|down|status`: the native stack as a whole."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from txlake.artifacts import say
from txlake.errors import TxlakeError
from txlake.settings import Settings
from txlake.stack import airflow, bootstrap, process
from txlake.stack.connect import Connect
from txlake.stack.features_driver import FeaturesDriver
from txlake.stack.kafka import Kafka
from txlake.stack.minio import Minio
from txlake.stack.postgres import Postgres
from txlake.stack.service import Context, Service, port_open
from txlake.stack.trino import Trino

# Start order; each service waits for those named in its `after`.
# Airflow last: its database migration (first start) runs while Trino boots.
SERVICES: tuple[Service, ...] = (Postgres(), Minio(), Kafka(), Connect(), Trino(), FeaturesDriver(),
                                 *airflow.SERVICES)
START_TIMEOUT = {"postgres": 60.0, "minio": 60.0, "kafka": 120.0, "connect": 180.0, "trino": 180.0,
                 "features-driver": 120.0,
                 "airflow": 180.0, "airflow-scheduler": 180.0, "airflow-dag-processor": 180.0}


class ServiceError(TxlakeError):
    def __init__(self, service: Service, ctx: Context, problem: str) -> None:
        super().__init__(f"{service.name}: {problem}; see {service.log_path(ctx)}")


def service_named(name: str) -> Service:
    for service in SERVICES:
        if service.name == name:
            return service
    known = ", ".join(s.name for s in SERVICES)
    raise TxlakeError(f"unknown service {name!r} (known: {known})")


def _pidfile(ctx: Context, service: Service) -> process.PidFile:
    return process.PidFile(ctx.run_dir, service.name)


def install(settings: Settings) -> None:
    """Download and build every service into the cache (quick when cached)."""
    ctx = Context(settings)
    for service in SERVICES:
        service.install(ctx)


def up(settings: Settings) -> list[dict[str, Any]]:
    """Start what is not running, wait until all is healthy, then configure CDC.

    Idempotent: running, healthy services are left alone, so a second `up` is
    quick and after a crash only the dead services are restarted.
    """
    ctx = Context(settings)
    started_at = time.monotonic()
    install(settings)
    pending = list(SERVICES)
    started: dict[str, float] = {}
    while pending:
        ready = [s for s in pending if all(_is_up(ctx, d) for d in s.after)]
        if not ready:
            raise TxlakeError("stack: services wait for each other in a cycle")
        for service in ready:
            if not _pidfile(ctx, service).alive():
                _start(ctx, service)
                started[service.name] = time.monotonic()
        for service in ready:
            _wait_healthy(ctx, service, started.get(service.name))
            service.after_start(ctx)
            pending.remove(service)
    bootstrap.initialize(settings, log_hint=f"; see {Connect().log_path(ctx)}")
    say(f"stack is up in {time.monotonic() - started_at:.1f}s")
    return status(settings)


def _is_up(ctx: Context, name: str) -> bool:
    service = service_named(name)
    return _pidfile(ctx, service).alive() and service.healthy(ctx)


def _start(ctx: Context, service: Service) -> None:
    for host, port in service.ports(ctx.settings):
        if port_open(host, port):
            raise TxlakeError(
                f"{service.name}: port {port} on {host} is already in use by a process this "
                f"stack did not start; stop it or choose another port in .env"
            )
    launch = service.prepare(ctx)
    say(f"{service.name}: starting ...")
    process.spawn(launch.command, log=service.log_path(ctx), pidfile=_pidfile(ctx, service),
                  env=launch.env, cwd=launch.cwd, user=launch.user)


def _wait_healthy(ctx: Context, service: Service, started: float | None) -> None:
    timeout = START_TIMEOUT.get(service.name, 120.0)
    deadline = time.monotonic() + timeout
    pidfile = _pidfile(ctx, service)
    while not service.healthy(ctx):
        if not pidfile.alive():
            raise ServiceError(service, ctx, "the process exited during start-up")
        if time.monotonic() > deadline:
            raise ServiceError(service, ctx, f"not healthy {timeout:.0f}s after start")
        time.sleep(0.25)
    if started is not None:
        say(f"{service.name}: healthy in {time.monotonic() - started:.1f}s "
            f"at {service.endpoint(ctx.settings)}")


def down(settings: Settings, *, volumes: bool = False) -> list[str]:
    """Stop every process this stack recorded, in reverse start order.

    With `volumes`, also delete the stack's state: every service's data, logs,
    checkpoints and registries. `.env` and the download cache are kept.
    """
    ctx = Context(settings)
    stopped = []
    for service in reversed(SERVICES):
        if process.stop(_pidfile(ctx, service), sig=service.stop_signal,
                        timeout=service.stop_timeout):
            stopped.append(service.name)
            say(f"{service.name}: stopped")
    if volumes:
        for path in _state_paths(ctx):
            shutil.rmtree(path, ignore_errors=True)
        say(f"deleted the stack's state in {ctx.home}")
    return stopped


def _state_paths(ctx: Context) -> Iterable[Path]:
    for service in SERVICES:
        yield from service.data_paths(ctx)
    yield ctx.home


def status(settings: Settings) -> list[dict[str, Any]]:
    ctx = Context(settings)
    rows = []
    for service in SERVICES:
        main = _pidfile(ctx, service).main()
        alive = bool(main and main.alive())
        healthy = service.healthy(ctx)
        log = service.log_path(ctx)
        row: dict[str, Any] = {
            "name": service.name,
            "healthy": healthy,
            "endpoint": service.endpoint(settings),
            "log": str(log) if log.exists() else None,
            "pid": main.pid if alive and main else None,
            "rss_bytes": process.tree_rss_bytes(main.pid) if alive and main else None,
        }
        if healthy:
            details = service.details(ctx)
            # A service may be up yet not doing its job (a failed connector task).
            row["healthy"] = bool(details.pop("healthy", True))
            row.update(details)
        rows.append(row)
    return rows
