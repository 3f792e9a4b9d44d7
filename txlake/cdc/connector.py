"""The Debezium connector on Kafka Connect: registered from config/, idempotently."""

from __future__ import annotations

import json
import time
from typing import Any

import requests

from txlake.errors import TxlakeError
from txlake.settings import Settings, project_root
from txlake.templates import render_file

CONFIG_FILE = project_root() / "config" / "debezium" / "postgres-connector.json"


class ConnectorError(TxlakeError):
    pass


def connector_config(settings: Settings) -> dict[str, str]:
    # Secrets are not rendered in: the file uses ${env:...} for them, which
    # the Connect worker resolves from its own environment.
    return json.loads(render_file(CONFIG_FILE, settings.as_env(reveal=False)))


def _url(settings: Settings, path: str = "") -> str:
    return f"{settings.kafka_connect_url}/connectors/{settings.cdc_connector_name}{path}"


def register(settings: Settings, *, timeout: float = 60.0) -> str:
    """Create or update the connector; 'created', 'updated' or 'unchanged'."""
    wanted = connector_config(settings)
    current = requests.get(_url(settings, "/config"), timeout=10)
    if current.ok and {k: v for k, v in current.json().items() if k != "name"} == wanted:
        return "unchanged"
    deadline = time.monotonic() + timeout
    while True:
        response = requests.put(_url(settings, "/config"), json=wanted, timeout=30)
        # 409: the worker is rebalancing; it accepts the request once that ends.
        if response.status_code != 409 or time.monotonic() > deadline:
            break
        time.sleep(1)
    if response.status_code not in (200, 201):
        raise ConnectorError(
            f"connect: registering {settings.cdc_connector_name} failed "
            f"({response.status_code}): {response.text[:300]}"
        )
    return "created" if response.status_code == 201 else "updated"


def state(settings: Settings) -> dict[str, Any]:
    """The connector's and its tasks' states, as Kafka Connect reports them."""
    response = requests.get(_url(settings, "/status"), timeout=5)
    if response.status_code == 404:
        return {"name": settings.cdc_connector_name, "state": "MISSING", "tasks": []}
    response.raise_for_status()
    body = response.json()
    return {
        "name": body["name"],
        "state": body["connector"]["state"],
        "tasks": [{"id": t["id"], "state": t["state"],
                   **({"error": t["trace"].splitlines()[0]} if t.get("trace") else {})}
                  for t in body.get("tasks", [])],
    }


def running(status: dict[str, Any]) -> bool:
    return status["state"] == "RUNNING" and bool(status["tasks"]) and all(
        t["state"] == "RUNNING" for t in status["tasks"])


def restart_failed(settings: Settings) -> None:
    requests.post(_url(settings, "/restart"), params={"includeTasks": "true", "onlyFailed": "true"},
                  timeout=30)


def wait_running(settings: Settings, *, timeout: float = 120.0, log_hint: str = "") -> dict:
    """Wait until the connector and all its tasks run; restart failed ones once."""
    deadline = time.monotonic() + timeout
    restarted = False
    status: dict[str, Any] = {}
    while time.monotonic() < deadline:
        try:
            status = state(settings)
        except requests.RequestException:
            time.sleep(1)
            continue
        if running(status):
            return status
        failed = status["state"] == "FAILED" or any(t["state"] == "FAILED" for t in status["tasks"])
        if failed and not restarted:
            restart_failed(settings)
            restarted = True
        elif failed:
            errors = [t.get("error", "") for t in status["tasks"] if t["state"] == "FAILED"]
            raise ConnectorError(
                f"connect: connector {settings.cdc_connector_name} failed: "
                f"{(errors or ['see the worker log'])[0]}{log_hint}"
            )
        time.sleep(1)
    raise ConnectorError(
        f"connect: connector {settings.cdc_connector_name} not running after {timeout:.0f}s "
        f"(state {status.get('state', 'unknown')}){log_hint}"
    )
