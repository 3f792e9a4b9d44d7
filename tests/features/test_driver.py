"""The features driver: `txlake features` runs on the stack's warm Spark session
and shows its progress; a driver that cannot be reached or read is one clear line."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import timedelta

import psutil
import pytest
import requests

from txlake import artifacts
from txlake.errors import TxlakeError
from txlake.features.driver import _follow

from .conftest import features_sql, gold_rows


def _health(settings) -> dict:
    response = requests.get(settings.features_driver_url + "/health", timeout=5)
    response.raise_for_status()
    return response.json()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.stack
def test_a_features_run_goes_to_the_driver_shows_its_progress_and_equals_sql(weeks, stack, spark, pg,
                                                                             txlake_cli):
    runs_before = _health(stack)["runs"]

    out = txlake_cli("features", "--as-of", weeks.second.isoformat(), "--json")

    assert out.returncode == 0, out.stderr
    assert _health(stack)["runs"] > runs_before  # the driver ran it, not this command's own Spark
    assert f"[txlake] features: week as of {weeks.second}" in out.stderr
    summary = json.loads(out.stdout)
    assert [w["as_of"] for w in summary["weeks"]] == [weeks.second.isoformat()]
    expected = pg.execute(*features_sql(weeks.second, weeks.tag)).fetchall()
    got = gold_rows(spark, stack, weeks.second, weeks.tag)
    assert [(r["user_id"], r["num_transactions_l1w"]) for r in got] == [(e[0], e[1]) for e in expected]


@pytest.mark.stack
def test_the_driver_refuses_a_request_it_cannot_read_and_says_why(stack):
    response = requests.post(stack.features_driver_url + "/features",
                             json={"as_of": ["2026-13-01"]}, timeout=30)

    assert response.status_code == 400
    assert response.json()["error"].startswith("bad request: ")


def test_an_unreachable_driver_is_one_line_naming_it_and_the_way_out(txlake_cli):
    port = _free_port()
    url = f"http://127.0.0.1:{port}"

    out = txlake_cli("features", "--stale", FEATURES_DRIVER_URL=url, FEATURES_DRIVER_PORT=str(port))

    assert out.returncode == 1
    [line] = out.stderr.strip().splitlines()
    assert line.startswith(f"txlake: error: features driver at {url} does not answer")
    assert "--local" in line


def test_the_jobs_lines_are_said_and_its_error_keeps_its_message_and_exit_code(settings, capsys):
    lines = ['{"say": "features: week as of 2026-11-23: 3 user(s) written (requested)"}',
             '{"error": "lake lock features: held by ingest", "exit_code": 3}']

    with pytest.raises(TxlakeError) as raised:
        _follow(iter(lines), settings)

    assert str(raised.value) == "lake lock features: held by ingest"
    assert raised.value.exit_code == 3
    assert "[txlake] features: week as of 2026-11-23" in capsys.readouterr().err


def test_a_job_cut_off_before_its_result_is_an_error_not_an_empty_summary(settings):
    with pytest.raises(TxlakeError, match="ended the job without a result"):
        _follow(iter(['{"say": "features: daily partials for 7 day(s)"}']), settings)


@pytest.mark.stack
def test_a_caller_that_goes_away_does_not_cut_the_job_off(weeks, stack, spark, pg):
    """A killed Airflow task closes its connection mid-job: the driver runs the
    job to its end anyway. Two weeks, so the job still has a week to write when
    its progress lines start to find the connection closed."""
    later = weeks.first + timedelta(days=1)  # a week no other test computes
    runs_before = _health(stack)["runs"]
    with requests.post(stack.features_driver_url + "/features",
                       json={"as_of": [weeks.first.isoformat(), later.isoformat()]},
                       stream=True, timeout=30) as response:
        assert response.status_code == 200
    deadline = time.monotonic() + 600
    while (health := _health(stack))["runs"] <= runs_before or health["busy"]:
        assert time.monotonic() < deadline, "the job did not finish within 10 minutes"
        time.sleep(0.5)

    for as_of in (weeks.first, later):
        expected = pg.execute(*features_sql(as_of, weeks.tag)).fetchall()
        got = gold_rows(spark, stack, as_of, weeks.tag)
        assert [(r["user_id"], r["num_transactions_l1w"]) for r in got] == [(e[0], e[1]) for e in expected]


def test_a_jobs_stream_carries_only_what_its_own_thread_says():
    """The driver logs requests (a health check, say) from other threads while a
    job runs: those lines stay in its log, out of the job's stream."""
    heard: list[str] = []
    with artifacts.said_to(heard.append):
        artifacts.say("features: week as of 2026-11-23: 3 user(s) written (requested)")
        other = threading.Thread(target=artifacts.say, args=('features driver: "GET /health" 200',))
        other.start()
        other.join()

    assert heard == ["features: week as of 2026-11-23: 3 user(s) written (requested)"]


def _start_driver(log) -> subprocess.Popen:
    """`txlake features-driver` on a port of its own, once it answers /health."""
    port = _free_port()
    with log.open("w") as out:
        driver = subprocess.Popen([sys.executable, "-m", "txlake", "features-driver",
                                   "--host", "127.0.0.1", "--port", str(port)],
                                  stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 180
    while True:
        assert driver.poll() is None, log.read_text()
        try:
            if requests.get(f"http://127.0.0.1:{port}/health", timeout=5).ok:
                return driver
        except requests.ConnectionError:
            pass
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(1)


@pytest.fixture
def own_driver(tmp_path):
    started = []

    def start() -> subprocess.Popen:
        started.append(_start_driver(tmp_path / "driver.log"))
        return started[-1]

    yield start
    for driver in started:
        if driver.poll() is None:
            driver.kill()
            driver.wait()


def test_a_driver_whose_spark_jvm_dies_exits_so_the_stack_can_start_a_new_one(own_driver, tmp_path):
    driver = own_driver()
    [jvm] = [p for p in psutil.Process(driver.pid).children(recursive=True) if p.name() == "java"]

    os.kill(jvm.pid, signal.SIGKILL)

    assert driver.wait(timeout=60) == 1
    said = (tmp_path / "driver.log").read_text()
    assert "Spark's JVM is gone" in said
    assert "txlake: error: features driver: Spark's JVM ended unexpectedly" in said


def test_a_driver_told_to_stop_ends_its_jvm_and_exits_cleanly(own_driver, tmp_path):
    driver = own_driver()

    driver.send_signal(signal.SIGTERM)

    assert driver.wait(timeout=60) == 0
    said = (tmp_path / "driver.log").read_text()
    assert "features driver: stopped" in said and "JVM is gone" not in said
