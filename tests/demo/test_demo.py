"""`txlake demo`: the README's first command ends in a clean, non-empty lakehouse.

Runs first in the session (see tests/conftest.py), on the session's freshly
wiped stack, as a user would run it: the console script in a subprocess.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

pytestmark = [pytest.mark.stack, pytest.mark.demo]


@pytest.fixture(scope="module")
def demo_report(stack) -> dict:
    run = subprocess.run(
        [sys.executable, "-m", "txlake", "demo", "--days", "8", "--customers", "300",
         "--per-day", "1500", "--seed", "5", "--json"],
        capture_output=True, text=True, timeout=1800, env=dict(os.environ))
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(run.stdout)


def test_demo_reconciles_clean_and_passes_quality(demo_report):
    assert demo_report["reconcile"]["clean"] is True
    assert demo_report["quality"]["passed"] is True
    assert len(demo_report["days"]) == 8


def test_demo_fills_every_layer(demo_report):
    layers = demo_report["layers"]
    for table in ("customers", "customers_changelog", "transactions", "transactions_changelog",
                  "features", "quality_results"):
        assert layers.get(table, 0) > 0, f"{table} is empty: {layers}"
    # Bronze keeps every change, silver only live rows: updates and deletes make bronze larger.
    assert layers["transactions_changelog"] > layers["transactions"]


def test_demo_reports_top_spenders_and_their_online_features(demo_report):
    spenders = demo_report["top_spenders"]
    assert 1 <= len(spenders) <= 5
    amounts = [float(spent) for _, spent in spenders]
    assert amounts == sorted(amounts, reverse=True)
    online = demo_report["online_features"]
    assert online["user_id"] == spenders[0][0]
    # The online store serves the same total the gold table holds for that user.
    assert float(online["total_amount_l1w"]) == pytest.approx(amounts[0], abs=0.005)


def test_demo_lists_the_user_interfaces(demo_report):
    assert {"Airflow UI", "Trino UI", "MinIO console", "Kafka Connect REST"} <= set(demo_report["urls"])
