"""Quality gates: a broken row in a copy of the gold table fails the run with
a message naming the check; a sound copy passes; every result is recorded."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

import pytest

from txlake.features.tables import FEATURES
from txlake.quality import results
from txlake.quality.run import run

pytestmark = pytest.mark.stack

AS_OF = date(2026, 11, 23)


def _row(user: str, count: int = 3, avg: float = 20.0, as_of: date = AS_OF) -> tuple:
    stamp = datetime.combine(as_of, datetime.min.time(), tzinfo=UTC)
    return (user, as_of, count, avg * count, avg, 5.0, 40.0, min(count, 2), min(count, 1), stamp, stamp)


def _copy(spark, settings, rows: list[tuple]) -> str:
    """A features table with `rows` at a private path in the lake bucket."""
    path = f"s3a://{settings.lake_bucket}/_test/quality-{uuid.uuid4().hex[:8]}/features"
    schema = ", ".join(f"{name} {type_}" for name, type_ in FEATURES.columns)
    spark.createDataFrame(rows, schema).write.format("delta").save(path)
    return path


@pytest.fixture(scope="module")
def results_uri(stack):
    return f"s3://{stack.lake_bucket}/_test/quality-results-{uuid.uuid4().hex[:8]}"


def test_a_sound_features_table_passes_and_the_results_are_recorded(spark, stack, results_uri):
    from deltalake import DeltaTable

    path = _copy(spark, stack, [_row("u1"), _row("u2", count=1), _row("u1", as_of=date(2026, 11, 16))])

    report = run(stack, "gold", paths={"features": path}, results_uri=results_uri)

    assert report.passed, report.results
    assert {r["status"] for r in report.results} == {"passed"}
    recorded = DeltaTable(results_uri, storage_options=results.storage_options(stack)).to_pyarrow_table()
    assert recorded.num_rows == len(report.results)
    assert set(recorded.column("run_id").to_pylist()) == {report.run_id}
    assert set(recorded.column("check_name").to_pylist()) == {r["check"] for r in report.results}


def test_a_duplicate_key_and_a_negative_count_fail_the_run_naming_the_checks(spark, stack, results_uri):
    rows = [_row("u1"), _row("u1"), _row("u2", count=-1), _row("u3")]
    path = _copy(spark, stack, rows)

    report = run(stack, "gold", as_of=AS_OF, paths={"features": path}, results_uri=results_uri)

    failed = {r["check"]: r for r in report.failed_critical}
    assert set(failed) == {"features_one_row_per_user_week", "features_counts_positive"}
    # Deequ's metric: the share of rows that pass.
    assert failed["features_counts_positive"]["metric"] == pytest.approx(0.75)
    assert not report.passed
    message = report.summary()
    assert message.startswith("quality check features_one_row_per_user_week failed on features")
    assert "1 more critical check(s) failed" in message
    assert "\n" not in message
