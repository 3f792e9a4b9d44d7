"""Fixtures for the lake tests: one Spark session in the test process."""

from __future__ import annotations

import pytest

from txlake.cdc import ingest
from txlake.cdc.reconcile import reconcile
from txlake.generate.load import first_free_day


@pytest.fixture
def ingest_now(stack, spark):
    """Run `txlake ingest` in this process (the Spark session stays warm)."""
    return lambda: ingest.run(stack)


@pytest.fixture
def reconcile_now(stack, spark):
    return lambda: reconcile(spark, stack, limit=5)


@pytest.fixture
def free_day(pg):
    """A day the generator has not written yet, from `start` on: the suite may
    run on a stack that already holds data (TXLAKE_TEST_STACK=external)."""
    return lambda start: first_free_day(pg, start).isoformat()
