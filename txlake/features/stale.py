"""Which days changed in silver since the features were computed.

Silver `transactions` has Delta's change data feed on: every commit records
the rows it inserted, deleted and updated (both the old and the new image).
The UTC days of those rows' `transaction_time` are the days whose partials no
longer match silver; an update that moves a transaction to another day
touches both days (old and new image).
"""

from __future__ import annotations

from datetime import date

from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from pyspark.sql.utils import AnalysisException

ALL_DAYS = None  # the feed cannot answer: treat every computed day as stale


def touched_days(spark: SparkSession, path: str, after_version: int,
                 to_version: int) -> set[date] | None:
    """UTC days of the transactions changed by commits (after_version, to_version].

    None when the change data feed does not cover that range (the feed was
    switched on later, or VACUUM removed its files): the caller then has to
    recompute everything it has, since it cannot know what changed.
    """
    if to_version <= after_version:
        return set()
    try:
        changes = (spark.read.format("delta").option("readChangeFeed", "true")
                   .option("startingVersion", after_version + 1)
                   .option("endingVersion", to_version).load(path))
        rows = (changes.where(F.col("transaction_time").isNotNull())
                .select(F.to_date("transaction_time").alias("day")).distinct().collect())
    except AnalysisException:
        return ALL_DAYS
    except Exception as error:  # noqa: BLE001 - py4j errors of missing change files
        if "FileNotFound" in str(error) or "change data" in str(error).lower():
            return ALL_DAYS
        raise
    return {row["day"] for row in rows}
