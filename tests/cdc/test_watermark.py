"""The watermark wait: proof that Kafka holds every change committed before it."""

from __future__ import annotations

from txlake.cdc import watermark


def test_a_lost_replication_slot_stops_ingest_with_a_message_that_names_it_and_the_way_out():
    problem = watermark.slot_problem("txlake_slot", "lost")
    assert problem is not None
    assert problem.startswith("postgres: replication slot txlake_slot is lost")
    assert "max_slot_wal_keep_size" in problem and "A lost replication slot" in problem


def test_a_slot_that_still_has_its_wal_is_fine():
    for status in ("reserved", "extended", "unreserved", None):
        assert watermark.slot_problem("txlake_slot", status) is None


def test_the_wait_returns_once_connect_has_committed_the_watermarks_lsn(stack):
    mark = watermark.wait(stack, timeout=120)
    assert mark.id.startswith("wm-") and mark.lsn > 0
    assert watermark._committed_lsn(stack) >= mark.lsn
    watermark.check_slot(stack)  # the stack's own slot is healthy
