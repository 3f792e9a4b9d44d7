"""The gold features table and the daily partials the weekly job combines."""

from __future__ import annotations

from dataclasses import dataclass

from txlake.lake.tables import LakeTable
from txlake.settings import Settings

# Deletion vectors stay off: Feast reads this table with delta-rs, which does
# not read them. Partitions by week make "replace that week" a metadata commit.
FEATURES = LakeTable("features", (
    ("user_id", "string"),
    ("as_of_date", "date"),
    ("num_transactions_l1w", "bigint"),
    ("total_amount_l1w", "double"),
    ("avg_amount_l1w", "double"),
    ("min_amount_l1w", "double"),
    ("max_amount_l1w", "double"),
    ("num_vendors_l1w", "bigint"),
    ("num_sources_l1w", "bigint"),
    ("feature_timestamp", "timestamp"),
    ("created_at", "timestamp"),
), properties={"delta.enableDeletionVectors": "false"}, partitioned_by=("as_of_date",))

# One row per user and UTC day: exact sums, extremes and the sets of vendors
# and channels, so seven of them combine into a week exactly (distinct counts
# cannot be added up, sets can be merged). Sums are whole cents in a long:
# Spark adds up decimals this wide through BigDecimal objects, which made
# both the daily aggregation and the weekly combine ~15% slower. Vendors (an
# open set of names) are held as ids from VENDOR_IDS: merging sets of ints
# instead of strings takes ~0.4 s off a weekly combine of 100k users.
DAILY = LakeTable("features_daily", (
    ("day", "date"),
    ("user_id", "string"),
    ("num_transactions", "bigint"),
    ("num_amounts", "bigint"),
    ("total_cents", "bigint"),
    ("min_amount", "decimal(12,2)"),
    ("max_amount", "decimal(12,2)"),
    ("vendors", "array<int>"),
    ("sources", "array<string>"),
), internal=True, properties={"delta.enableDeletionVectors": "false"}, partitioned_by=("day",))

# Every vendor name the partials have seen, each with its own id for good
# (one id per name: exact, unlike a hash). Only the features job writes it,
# under its lock; partials are only valid with the dictionary they were made
# with, so a new dictionary means new partials.
VENDOR_IDS = LakeTable("features_vendor_ids", (
    ("vendor", "string"),
    ("id", "int"),
), internal=True, properties={"delta.enableDeletionVectors": "false"})


@dataclass(frozen=True)
class FeaturePaths:
    """Where the job reads and writes. The defaults are the lake's tables; the
    benchmark and tests point the same code at copies elsewhere in the bucket."""

    transactions: str
    features: str
    daily: str
    vendor_ids: str
    state_key: str  # object key (in the lake bucket) of the job's small state file

    @classmethod
    def lake(cls, settings: Settings) -> FeaturePaths:
        return cls(transactions=settings.lake_path("transactions"),
                   features=FEATURES.path(settings),
                   daily=DAILY.path(settings), vendor_ids=VENDOR_IDS.path(settings),
                   state_key="_txlake/features_state.json")

    @classmethod
    def under(cls, settings: Settings, prefix: str, transactions: str | None = None) -> FeaturePaths:
        """A private set of tables under s3a://<bucket>/<prefix>/ (benchmarks, tests)."""
        root = f"s3a://{settings.lake_bucket}/{prefix.strip('/')}"
        return cls(transactions=transactions or f"{root}/transactions",
                   features=f"{root}/features", daily=f"{root}/features_daily",
                   vendor_ids=f"{root}/features_vendor_ids",
                   state_key=f"{prefix.strip('/')}/features_state.json")
