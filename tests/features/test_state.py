"""The features job's state: what it has computed, kept as JSON in the lake bucket."""

from __future__ import annotations

from datetime import date

from txlake.features.state import JobState


def test_the_state_keeps_silver_version_days_and_written_weeks():
    state = JobState(42, {date(2026, 11, 16), date(2026, 11, 17)}, {date(2026, 11, 23)})

    assert JobState.from_json(state.to_json()) == state


def test_a_state_an_older_txlake_wrote_has_no_written_weeks():
    old = '{"silver_version": 7, "days": ["2026-11-16"]}'

    assert JobState.from_json(old) == JobState(7, {date(2026, 11, 16)}, set())
