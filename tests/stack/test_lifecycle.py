"""`stack up` is idempotent, heals what crashed, and `down` leaves nothing behind."""

from __future__ import annotations

import json
import os
import signal
import time

import pytest

from txlake.stack import manager
from txlake.stack.service import port_open

pytestmark = pytest.mark.stack


def _pids(settings) -> dict[str, int]:
    return {row["name"]: row["pid"] for row in manager.status(settings)}


def test_status_json_lists_every_service_healthy_with_endpoint_and_log(stack, txlake_cli):
    result = txlake_cli("stack", "status", "--json")

    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert [r["name"] for r in rows] == ["postgres", "minio", "kafka", "connect", "trino",
                                        "features-driver", "airflow", "airflow-scheduler",
                                        "airflow-dag-processor"]
    for row in rows:
        assert row["healthy"] is True
        assert row["endpoint"] and os.path.exists(row["log"])
    assert stack.postgres_password.get_secret_value() not in result.stdout


def test_up_twice_is_harmless_and_quick(stack, txlake_cli):
    before = _pids(stack)
    started = time.monotonic()

    result = txlake_cli("stack", "up")

    assert result.returncode == 0, result.stderr
    assert time.monotonic() - started < 30
    assert _pids(stack) == before


def test_up_after_a_crash_restarts_only_the_dead_service(stack, txlake_cli):
    before = _pids(stack)
    os.kill(before["minio"], signal.SIGKILL)
    deadline = time.monotonic() + 10
    while port_open(stack.s3_host, stack.s3_port) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert txlake_cli("stack", "status").returncode == 1

    result = txlake_cli("stack", "up")

    assert result.returncode == 0, result.stderr
    after = _pids(stack)
    assert after["minio"] != before["minio"]
    assert {k: v for k, v in after.items() if k != "minio"} == {
        k: v for k, v in before.items() if k != "minio"}


def _running(pid: int) -> bool:
    """Alive and not a zombie. The state follows the command name, which may
    hold spaces (Airflow names its processes "airflow api-server", say)."""
    try:
        stat = open(f"/proc/{pid}/stat").read()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_down_leaves_no_process_listening_and_up_brings_all_back(stack):
    pids = _pids(stack)
    ports = [p for s in manager.SERVICES for p in s.ports(stack)]

    manager.down(stack)
    try:
        assert not [p for p in ports if port_open(*p)]
        assert not [pid for pid in pids.values() if _running(pid)]
    finally:
        manager.up(stack)  # the rest of the session needs the stack, pass or fail
    assert all(row["healthy"] for row in manager.status(stack))
