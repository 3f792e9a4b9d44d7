"""Fixtures for the quality tests: one Spark session (to write test copies)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def spark(stack):
    from txlake.lake.spark import session

    return session(stack, "txlake-tests")
