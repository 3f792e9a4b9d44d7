"""The feature definition, in two steps: per user and UTC day, then per week.

DESIGN.md: as of date D, the current transactions whose `transaction_time`
is in [D - 7 days, D) UTC, one row per user with at least one of them.
Amounts are summed exactly as decimals and become doubles only in the gold
row (Feast's types); the average is the exact total over the exact count.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

WEEK = timedelta(days=7)


def window(as_of: date) -> tuple[date, date]:
    """The days a week as of `as_of` covers: [as_of - 7d, as_of)."""
    return as_of - WEEK, as_of


def week_days(as_of: date) -> list[date]:
    start, _ = window(as_of)
    return [start + timedelta(days=i) for i in range(7)]


def midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def _day_ranges(days: Iterable[date]) -> list[tuple[date, date]]:
    """Consecutive days merged into [first, last + 1d) ranges: fewer, simpler
    predicates, which Delta's file statistics can use to skip files."""
    ranges: list[tuple[date, date]] = []
    for day in sorted(set(days)):
        if ranges and ranges[-1][1] == day:
            ranges[-1] = (ranges[-1][0], day + timedelta(days=1))
        else:
            ranges.append((day, day + timedelta(days=1)))
    return ranges


def in_days(column: str, days: Iterable[date]) -> Column:
    """`column` (a timestamp) falls on one of `days` (UTC)."""
    condition = F.lit(False)
    for start, end in _day_ranges(days):
        condition = condition | ((F.col(column) >= F.lit(midnight(start)))
                                 & (F.col(column) < F.lit(midnight(end))))
    return condition


def cents(column: str) -> Column:
    """A decimal(12,2) amount as whole cents, exactly. The factor is typed
    decimal(3,0) so the product stays a decimal Spark holds in a long; with
    ANSI mode (Spark's default) an overflow fails instead of wrapping."""
    return (F.col(column) * F.lit(100).cast("decimal(3,0)")).cast("bigint")


def rows_on(transactions: DataFrame, days: Iterable[date]) -> DataFrame:
    return transactions.where(in_days("transaction_time", list(days)))


def daily_partials(transactions: DataFrame, days: Iterable[date],
                   vendor_ids: DataFrame) -> DataFrame:
    """One row per (UTC day, user) with transactions on that day, for `days`;
    vendors as their ids in `vendor_ids` (vendor, id), which must know them all."""
    ids = vendor_ids.select("vendor", F.col("id").alias("vendor_id"))
    # A left join: a transaction without a vendor still counts, its null id
    # stays out of the set as a null name did.
    rows = rows_on(transactions, days).join(F.broadcast(ids), "vendor", "left")
    # The session time zone is UTC (txlake.lake.spark), so to_date is the UTC day.
    return (rows.groupBy(F.to_date("transaction_time").alias("day"), "user_id")
            .agg(F.count(F.lit(1)).alias("num_transactions"),
                 # Like SQL's avg: rows without an amount count as transactions
                 # but not in the average.
                 F.count("amount").alias("num_amounts"),
                 F.sum(cents("amount")).alias("total_cents"),
                 F.min("amount").alias("min_amount"),
                 F.max("amount").alias("max_amount"),
                 F.collect_set("vendor_id").alias("vendors"),
                 F.collect_set("source").alias("sources")))


def weekly_features(partials: DataFrame, as_of: date, created_at: datetime) -> DataFrame:
    """Seven days of partials combined into the gold rows of the week as of `as_of`."""
    start, end = window(as_of)
    days = partials.where((F.col("day") >= F.lit(start)) & (F.col("day") < F.lit(end)))
    total = F.sum("total_cents")
    week = (days.groupBy("user_id")
            .agg(F.sum("num_transactions").alias("n"), F.sum("num_amounts").alias("n_amounts"),
                 total.alias("total"),
                 F.min("min_amount").alias("lo"), F.max("max_amount").alias("hi"),
                 F.size(F.array_distinct(F.flatten(F.collect_list("vendors")))).alias("vendors"),
                 F.size(F.array_distinct(F.flatten(F.collect_list("sources")))).alias("sources")))
    # Whole cents (exact, below 2^53) over 100: the double nearest the exact
    # decimal total, as casting the decimal itself would give.
    amount = F.col("total").cast("double") / 100
    return week.select(
        "user_id",
        F.lit(as_of).alias("as_of_date"),
        F.col("n").cast("bigint").alias("num_transactions_l1w"),
        amount.alias("total_amount_l1w"),
        # The exact sum as a double over the exact count: within 1e-15 relative of
        # the true mean (a decimal division would stop at 6-8 decimals), kept
        # within [min, max] where rounding would step out (0.3 / 3 < 0.1).
        F.least(F.greatest(amount / F.col("n_amounts"), F.col("lo").cast("double")),
                F.col("hi").cast("double")).alias("avg_amount_l1w"),
        F.col("lo").cast("double").alias("min_amount_l1w"),
        F.col("hi").cast("double").alias("max_amount_l1w"),
        F.col("vendors").cast("bigint").alias("num_vendors_l1w"),
        F.col("sources").cast("bigint").alias("num_sources_l1w"),
        F.lit(midnight(as_of)).cast("timestamp").alias("feature_timestamp"),
        F.lit(created_at).cast("timestamp").alias("created_at"),
    )
