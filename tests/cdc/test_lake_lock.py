"""One writer per lake table: a second writer waits, then fails naming the holder."""

from __future__ import annotations

import time

import pytest

from txlake.errors import TxlakeError
from txlake.lake.lock import lake_lock

pytestmark = pytest.mark.stack


def test_a_second_ingest_gives_up_with_a_message_naming_the_first(stack, txlake_cli):
    with lake_lock(stack, ["transactions"], "test-holder", timeout=5):
        started = time.monotonic()
        second = txlake_cli("ingest", timeout=300, LAKE_LOCK_TIMEOUT_SECONDS="2")

    assert second.returncode == 1
    last = second.stderr.strip().splitlines()[-1]
    assert last.startswith("txlake: error:") and "test-holder" in last and "transactions" in last
    assert time.monotonic() - started < 120


def test_the_lock_is_free_again_once_released(stack):
    with lake_lock(stack, ["features"], "first", timeout=1):
        with pytest.raises(TxlakeError, match="first"):
            with lake_lock(stack, ["features"], "second", timeout=1):
                pass
    with lake_lock(stack, ["features"], "third", timeout=1):
        pass
