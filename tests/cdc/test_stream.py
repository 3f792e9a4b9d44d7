"""`txlake stream` keeps silver equal to the source while changes arrive, and
stops cleanly when told to."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import date

import pytest

pytestmark = pytest.mark.stack


def _wait_until_clean(reconcile_now, streamer, log, seconds: float) -> dict:
    deadline = time.monotonic() + seconds
    while True:
        assert streamer.poll() is None, "txlake stream ended on its own:\n" + log.read_text()
        report = reconcile_now()
        if report["clean"]:
            return report
        assert time.monotonic() < deadline, f"silver never caught up: {report}"
        time.sleep(2)


def test_stream_applies_changes_as_they_are_committed_and_stops_cleanly_on_sigterm(
        stack, ingest_now, reconcile_now, generate, tmp_path):
    customers, transactions = generate
    customers(300, seed=21)
    ingest_now()  # the lake's tables exist and hold what came before
    log = tmp_path / "stream.log"
    with open(log, "w") as out:
        streamer = subprocess.Popen([sys.executable, "-m", "txlake", "stream"], stdout=out,
                                    stderr=subprocess.STDOUT,
                                    env={**os.environ, "STREAM_TRIGGER_SECONDS": "1"})
    try:
        # Two rounds: the second lands on a stream that is already running.
        transactions(date(2026, 9, 14), 3_000, seed=21, updates=0.3, deletes=0.1)
        _wait_until_clean(reconcile_now, streamer, log, seconds=600)
        transactions(date(2026, 9, 14), 2_000, seed=22, updates=0.3, deletes=0.1)
        _wait_until_clean(reconcile_now, streamer, log, seconds=300)
        streamer.send_signal(signal.SIGTERM)
        code = streamer.wait(timeout=120)
    finally:
        if streamer.poll() is None:
            streamer.kill()
            streamer.wait()
    output = log.read_text()
    assert code == 0, output
    assert "stream: stopped after" in output, output
    assert "Traceback" not in output, output

    # The stop released the lake lock and left a checkpoint the next run continues from.
    transactions(date(2026, 9, 14), 1_000, seed=23, updates=0.3, deletes=0.1)
    ingest_now()
    assert reconcile_now()["clean"]
