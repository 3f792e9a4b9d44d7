"""Weekly features: equal to SQL over the source, leakage-free at the edges,
late changes reach gold, re-runs change nothing."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from decimal import Decimal

import psycopg
import pytest
from pyspark.sql import functions as F

from txlake.cdc.tables import TRANSACTIONS
from txlake.features import FeaturePaths, as_of_range, run, state
from txlake.features.aggregate import midnight, week_days
from txlake.lake import tables as lake
from txlake.lake.storage import s3_client

from .conftest import features_sql, gold_rows, insert_transactions

pytestmark = pytest.mark.stack


def _cents(value: float) -> Decimal:
    return Decimal(repr(value)).quantize(Decimal("0.01"))


@pytest.fixture(scope="module")
def computed(weeks, stack, spark):
    return run(spark, stack, [weeks.first, weeks.second])


def test_every_users_features_equal_sql_over_the_source(weeks, computed, stack, spark, pg):
    for as_of in (weeks.first, weeks.second):
        expected = pg.execute(*features_sql(as_of, weeks.tag)).fetchall()
        got = gold_rows(spark, stack, as_of, weeks.tag)

        assert [r["user_id"] for r in got] == [e[0] for e in expected]
        for row, (_, count, total, avg, low, high, vendors, sources) in zip(got, expected, strict=True):
            assert row["num_transactions_l1w"] == count
            assert _cents(row["total_amount_l1w"]) == total
            assert _cents(row["min_amount_l1w"]) == low
            assert _cents(row["max_amount_l1w"]) == high
            assert abs(Decimal(repr(row["avg_amount_l1w"])) - avg) < Decimal("1e-9")
            assert (row["num_vendors_l1w"], row["num_sources_l1w"]) == (vendors, sources)
            assert row["feature_timestamp"].date() == as_of


def test_the_window_is_closed_at_its_start_and_open_at_its_end(weeks, computed, stack, spark):
    first = {r["user_id"]: r for r in gold_rows(spark, stack, weeks.first, weeks.tag)}
    second = {r["user_id"]: r for r in gold_rows(spark, stack, weeks.second, weeks.tag)}

    assert first[weeks.special["at_start"]]["num_transactions_l1w"] == 1      # D-7d 00:00:00
    assert first[weeks.special["just_before_end"]]["num_transactions_l1w"] == 1
    assert weeks.special["at_end"] not in first                               # D 00:00:00
    assert second[weeks.special["at_end"]]["num_transactions_l1w"] == 1


def test_deleted_transactions_are_out_and_updates_count_with_their_new_value(weeks, computed,
                                                                             stack, spark):
    first = {r["user_id"]: r for r in gold_rows(spark, stack, weeks.first, weeks.tag)}

    assert weeks.special["deleted"] not in first
    assert first[weeks.special["updated"]]["total_amount_l1w"] == 999.99


def test_a_late_update_changes_last_weeks_features_at_the_next_run(weeks, computed, stack, spark,
                                                                   ingest_now):
    user = weeks.special["late"]
    before = {r["user_id"]: r for r in gold_rows(spark, stack, weeks.first, weeks.tag)}
    assert before[user]["total_amount_l1w"] == 10.0
    with psycopg.connect(stack.postgres_dsn(), autocommit=True) as conn:
        conn.execute("UPDATE transactions SET amount = 123.45, updated_at = now() "
                     "WHERE transaction_id = %s", (weeks.rows["late"],))
    ingest_now()

    # The next run is asked for the following week only.
    result = run(spark, stack, [weeks.second])

    recomputed = {w.as_of: w.reason for w in result.weeks}
    assert recomputed.get(weeks.first.isoformat()) == "stale"
    after = {r["user_id"]: r for r in gold_rows(spark, stack, weeks.first, weeks.tag)}
    assert after[user]["total_amount_l1w"] == 123.45
    assert after[user]["max_amount_l1w"] == 123.45


def test_running_a_week_again_leaves_the_table_identical(weeks, computed, stack, spark,
                                                         txlake_cli):
    from delta.tables import DeltaTable

    path = stack.lake_path("features")
    run(spark, stack, [weeks.first])  # settle anything other writers made stale meanwhile
    rows = gold_rows(spark, stack, weeks.first, weeks.tag)
    version = DeltaTable.forPath(spark, path).history(1).collect()[0]["version"]

    cli = txlake_cli("features", "--as-of", weeks.first.isoformat(), "--json")

    assert cli.returncode == 0, cli.stderr
    summary = json.loads(cli.stdout)
    week = next(w for w in summary["weeks"] if w["as_of"] == weeks.first.isoformat())
    assert week["changed"] is False and week["reason"] == "requested"
    assert gold_rows(spark, stack, weeks.first, weeks.tag) == rows  # created_at included
    newer = [h for h in DeltaTable.forPath(spark, path).history(10).collect() if h["version"] > version]
    assert not any(weeks.first.isoformat() in str(h["operationParameters"]) for h in newer)


def test_a_day_the_daily_run_aggregated_is_only_combined_by_the_weekly_run(weeks, computed, stack,
                                                                          spark, pg, ingest_now):
    """The daily DAG's last task (`txlake features --day`) moves a day's
    aggregation out of the weekly run; the week stays equal to SQL."""
    third = weeks.second + timedelta(days=7)
    day = weeks.second + timedelta(days=2)
    insert_transactions(pg, [(f"fx{weeks.tag}-day-t{i}", weeks.users[i], Decimal("20.50") + i,
                              "Acme Foods", "online", midnight(day) + timedelta(hours=i))
                             for i in range(3)])
    ingest_now()

    daily = run(spark, stack, [], days=[day])
    weekly = run(spark, stack, [third])

    assert day.isoformat() in daily.partial_days
    assert day.isoformat() not in weekly.partial_days
    expected = pg.execute(*features_sql(third, weeks.tag)).fetchall()
    got = gold_rows(spark, stack, third, weeks.tag)
    assert [(r["user_id"], r["num_transactions_l1w"], _cents(r["total_amount_l1w"])) for r in got] \
        == [(e[0], e[1], e[2]) for e in expected]
    assert len(got) == 3


def test_a_late_change_the_daily_run_takes_up_still_reaches_its_week(weeks, computed, stack, spark,
                                                                     pg, ingest_now):
    """The daily run consumes silver's changes; the weeks they touch must be
    recomputed then, not left for a weekly run that no longer sees them."""
    run(spark, stack, [weeks.first])  # settle anything other tests made stale
    user = weeks.users[0]
    insert_transactions(pg, [(f"fx{weeks.tag}-late-insert", user, Decimal("7.77"), "Late Shop",
                              "online", midnight(weeks.first) - timedelta(days=1))])
    ingest_now()

    daily = run(spark, stack, [], days=[weeks.second + timedelta(days=3)])

    assert {w.as_of: w.reason for w in daily.weeks}.get(weeks.first.isoformat()) == "stale"
    expected = {e[0]: e for e in pg.execute(*features_sql(weeks.first, weeks.tag)).fetchall()}
    got = {r["user_id"]: r for r in gold_rows(spark, stack, weeks.first, weeks.tag)}
    assert got[user]["num_transactions_l1w"] == expected[user][1]
    assert _cents(got[user]["total_amount_l1w"]) == expected[user][2]


def test_partials_an_older_txlake_wrote_are_replaced_and_the_week_is_still_exact(weeks, computed,
                                                                               stack, spark, pg):
    """Partials in the layout before whole-cent sums (decimal `total_amount`),
    one of them wrong, and a state that claims the week's days are done: the
    run replaces the table and aggregates every day again from silver."""
    paths = FeaturePaths.under(stack, f"_test/features-layout-{weeks.tag}",
                               transactions=stack.lake_path("transactions"))
    days = week_days(weeks.first)
    old = spark.createDataFrame(
        [(days[0], weeks.users[0], 999, 999, Decimal("1.00"), Decimal("1.00"), Decimal("1.00"),
          ["Nowhere"], ["online"])],
        "day date, user_id string, num_transactions bigint, num_amounts bigint, "
        "total_amount decimal(22,2), min_amount decimal(12,2), max_amount decimal(12,2), "
        "vendors array<string>, sources array<string>")
    old.write.format("delta").partitionBy("day").save(paths.daily)
    version = spark.sql(f"DESCRIBE HISTORY delta.`{paths.transactions}` LIMIT 1").first()["version"]
    state.save(stack, paths.state_key, state.JobState(version, set(days)))

    result = run(spark, stack, [weeks.first], paths=paths)

    assert result.partial_days == [d.isoformat() for d in days]
    assert "total_cents" in spark.read.format("delta").load(paths.daily).columns
    expected = pg.execute(*features_sql(weeks.first, weeks.tag)).fetchall()
    got = (spark.read.format("delta").load(paths.features)
           .where(F.col("user_id").startswith(f"fx{weeks.tag}-")).orderBy("user_id").collect())
    assert [(r["user_id"], r["num_transactions_l1w"], _cents(r["total_amount_l1w"])) for r in got] \
        == [(e[0], e[1], e[2]) for e in expected]


def test_a_week_gold_holds_but_the_job_state_forgot_is_replaced_not_added_to(weeks, computed,
                                                                            stack, spark, pg):
    """A week the job's state does not list (a lost or reset state file) is
    written blind only where gold has no file of that week at all."""
    paths = FeaturePaths.under(stack, f"_test/features-forgot-{weeks.tag}",
                               transactions=stack.lake_path("transactions"))
    run(spark, stack, [weeks.first], paths=paths)
    forgot = state.load(stack, paths.state_key)
    forgot.weeks = set()
    state.save(stack, paths.state_key, forgot)

    result = run(spark, stack, [weeks.first], paths=paths)

    assert [(w.reason, w.changed) for w in result.weeks] == [("requested", True)]
    expected = pg.execute(*features_sql(weeks.first, weeks.tag)).fetchall()
    got = (spark.read.format("delta").load(paths.features)
           .where(F.col("user_id").startswith(f"fx{weeks.tag}-")).orderBy("user_id").collect())
    assert [(r["user_id"], r["num_transactions_l1w"]) for r in got] == [(e[0], e[1]) for e in expected]


def _own_silver(spark, settings, path: str, rows: list[tuple[str, str, str, datetime]]) -> None:
    """A silver transactions table of a few (id, user, vendor, time) rows at `path`."""
    lake.ensure(spark, settings, lake.silver(TRANSACTIONS), path)
    schema = spark.read.format("delta").load(path).schema
    full = [(tid, user, Decimal("10.00"), vendor, "online", at, at, 1, at) for tid, user, vendor, at in rows]
    spark.createDataFrame(full, schema).write.format("delta").mode("append").save(path)


def test_partials_made_with_a_lost_vendor_dictionary_are_made_again(stack, spark, tmp_path):
    """Partials hold vendor ids. With the dictionary gone, ids handed out anew
    would clash with the ids old partials hold: here a new dictionary would
    give vendor C id 1, which the kept partial of day 1 means as vendor A."""
    prefix = f"_test/features-vendor-ids-{tmp_path.name}"
    paths = FeaturePaths.under(stack, prefix)
    as_of = date(2026, 6, 8)
    day1, day2 = midnight(as_of - timedelta(days=7)), midnight(as_of - timedelta(days=6))
    _own_silver(spark, stack, paths.transactions, [
        ("v1", "vendor-user", "A", day1), ("v2", "vendor-user", "B", day1),
        ("v3", "vendor-user", "C", day2)])
    run(spark, stack, [as_of], paths=paths)
    lost = spark.read.format("delta").load(paths.vendor_ids)
    assert sorted((r["vendor"], r["id"]) for r in lost.collect()) == [("A", 1), ("B", 2), ("C", 3)]
    bucket = s3_client(stack)
    for item in bucket.list_objects_v2(Bucket=stack.lake_bucket,
                                       Prefix=f"{prefix}/features_vendor_ids/")["Contents"]:
        bucket.delete_object(Bucket=stack.lake_bucket, Key=item["Key"])
    kept = state.load(stack, paths.state_key)
    kept.days.discard(day2.date())  # day 1's partial is kept, day 2's made again
    state.save(stack, paths.state_key, kept)

    run(spark, stack, [as_of], paths=paths)

    [row] = spark.read.format("delta").load(paths.features).collect()
    assert (row["num_transactions_l1w"], row["num_vendors_l1w"]) == (3, 3)


def test_a_backfill_takes_every_seventh_day_from_the_first_up_to_the_last():
    assert as_of_range(date(2026, 11, 2), date(2026, 11, 23)) == [
        date(2026, 11, 2), date(2026, 11, 9), date(2026, 11, 16), date(2026, 11, 23)]
    assert as_of_range(date(2026, 11, 2), date(2026, 11, 8)) == [date(2026, 11, 2)]


@pytest.mark.parametrize("args, message", [
    ((), "give --as-of YYYY-MM-DD, --from/--to, --day YYYY-MM-DD or --stale"),
    (("--from", "2026-11-02"), "--from and --to go together"),
    (("--from", "2026-11-09", "--to", "2026-11-02"), "is before --from"),
    (("--as-of", "2026-11-2"), "--as-of expects a date as YYYY-MM-DD (got '2026-11-2')"),
])
def test_bad_arguments_give_one_line(args, message, txlake_cli):
    out = txlake_cli("features", *args)

    assert out.returncode != 0
    [line] = out.stderr.strip().splitlines()
    assert line.startswith("txlake: error: ") and message in line
