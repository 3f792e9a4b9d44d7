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


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_the_wait_gives_up_only_after_a_whole_stall_period_without_progress():
    clock, offsets = _Clock(), [100]
    deadline = watermark.Deadline(300, lambda: offsets[0], clock)

    clock.now = 299
    assert not deadline.expired()
    offsets[0] = 5_000  # a big backlog still flowing into Kafka
    clock.now = 301
    assert not deadline.expired()  # progress: another 300 s from here
    clock.now = 600
    assert not deadline.expired()
    clock.now = 602  # nothing moved since 301
    assert deadline.expired()
