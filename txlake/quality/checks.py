"""The data-quality checks: what is checked on which table, and how bad a failure is.

Severity:
- critical: the data is wrong for its consumers (duplicate keys, impossible
  feature values); `txlake quality` exits non-zero and the DAG stops.
- warning: suspicious but possible input (the source takes rows from other
  tools too, with no CHECK rules): recorded, the run goes on.

Each check is one Deequ constraint. Kinds: `complete` (no nulls in a column),
`unique` (a column or column set is a key: no nulls, no duplicates),
`contained` (values from a fixed set; null passes), `satisfies` (a SQL
condition every row meets).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

CRITICAL = "critical"
WARNING = "warning"
CHANNELS = ("online", "in_store", "mobile", "atm")


@dataclass(frozen=True)
class Check:
    name: str
    table: str
    severity: str
    kind: str
    columns: tuple[str, ...] = ()
    condition: str = ""
    values: tuple[str, ...] = ()
    description: str = ""

    def as_dict(self) -> dict:
        return asdict(self)


def silver_checks(max_amount: float) -> list[Check]:
    return [
        Check("transactions_id_complete", "transactions", CRITICAL, "complete", ("transaction_id",),
              description="every transaction has its key"),
        Check("transactions_id_unique", "transactions", CRITICAL, "unique", ("transaction_id",),
              description="silver holds one current row per transaction"),
        Check("transactions_user_complete", "transactions", CRITICAL, "complete", ("user_id",),
              description="every transaction belongs to a user (the source's foreign key)"),
        Check("transactions_time_complete", "transactions", WARNING, "complete", ("transaction_time",),
              description="a transaction without a time falls in no feature week"),
        Check("transactions_amount_bounds", "transactions", WARNING, "satisfies",
              condition=f"amount IS NULL OR (amount >= 0 AND amount <= {max_amount})",
              description=f"amounts are within [0, {max_amount:g}] (QUALITY_MAX_AMOUNT)"),
        Check("transactions_source_valid", "transactions", WARNING, "contained", ("source",),
              values=CHANNELS, description="the channel is one of " + ", ".join(CHANNELS)),
        Check("customers_id_complete", "customers", CRITICAL, "complete", ("user_id",),
              description="every customer has its key"),
        Check("customers_id_unique", "customers", CRITICAL, "unique", ("user_id",),
              description="silver holds one current row per customer"),
        Check("customers_age_bounds", "customers", WARNING, "satisfies",
              condition="age IS NULL OR (age >= 0 AND age <= 130)",
              description="ages are plausible"),
    ]


def gold_checks() -> list[Check]:
    return [
        Check("features_keys_complete", "features", CRITICAL, "satisfies",
              condition="user_id IS NOT NULL AND as_of_date IS NOT NULL",
              description="every row has its user and week"),
        Check("features_one_row_per_user_week", "features", CRITICAL, "unique",
              ("user_id", "as_of_date"), description="one row per user and week"),
        Check("features_counts_positive", "features", CRITICAL, "satisfies",
              condition="num_transactions_l1w >= 1 AND num_vendors_l1w >= 1 AND num_sources_l1w >= 1",
              description="a row exists only for a user with transactions that week"),
        Check("features_distinct_counts_bounded", "features", CRITICAL, "satisfies",
              condition=("num_vendors_l1w <= num_transactions_l1w AND "
                         f"num_sources_l1w <= num_transactions_l1w AND num_sources_l1w <= {len(CHANNELS)}"),
              description="distinct vendors and channels never exceed the transactions"),
        Check("features_min_avg_max", "features", CRITICAL, "satisfies",
              condition=("min_amount_l1w IS NULL OR (min_amount_l1w <= avg_amount_l1w "
                         "AND avg_amount_l1w <= max_amount_l1w)"),
              description="min <= avg <= max"),
        Check("features_timestamp_is_as_of", "features", CRITICAL, "satisfies",
              condition="feature_timestamp = CAST(as_of_date AS TIMESTAMP)",
              description="feature_timestamp is as_of_date 00:00 UTC (Feast's event time)"),
    ]


LAYERS = ("silver", "gold", "all")


def checks_for(layer: str, max_amount: float) -> list[Check]:
    if layer == "silver":
        return silver_checks(max_amount)
    if layer == "gold":
        return gold_checks()
    return silver_checks(max_amount) + gold_checks()
