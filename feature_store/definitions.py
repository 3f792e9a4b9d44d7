"""Feast definitions for txlake: the names other tools rely on (DESIGN.md).

Sources are the lake's Delta tables, named by location; the offline store
(txlake.feast.offline) reads them through their Delta log.

Point in time: a `user_weekly_features` row stamped D (as_of_date D, 00:00 UTC)
describes the transactions in [D-7d, D). An entity row at time t gets the
newest row stamped at or before t, and only while t <= stamp + TTL: the TTL of
7 days makes a row serve [D, D+7d] (Feast's bound is inclusive; from D+7d on
the next week's row wins where it exists). So a training example never sees a
week that had not ended yet, nor a week older than the last complete one.
"""

import os
from datetime import timedelta

from feast import Entity, FeatureView, Field, FileSource, ValueType
from feast.data_format import DeltaFormat
from feast.types import Float64, Int64, String

_BUCKET = os.environ.get("LAKE_BUCKET", "lakehouse")
_S3_ENDPOINT = os.environ.get("S3_ENDPOINT", "")

user = Entity(name="user", join_keys=["user_id"], value_type=ValueType.STRING,
              description="A card holder, keyed like the source table customers.")

weekly_source = FileSource(
    name="lake_features",
    path=f"s3://{_BUCKET}/project/features",
    file_format=DeltaFormat(),
    timestamp_field="feature_timestamp",
    created_timestamp_column="created_at",
    s3_endpoint_override=_S3_ENDPOINT,
    description="Gold table lakehouse.project.features: one row per user and week.",
)

user_weekly_features = FeatureView(
    name="user_weekly_features",
    entities=[user],
    ttl=timedelta(days=7),
    schema=[
        Field(name="num_transactions_l1w", dtype=Int64),
        Field(name="total_amount_l1w", dtype=Float64),
        Field(name="avg_amount_l1w", dtype=Float64),
        Field(name="min_amount_l1w", dtype=Float64),
        Field(name="max_amount_l1w", dtype=Float64),
        Field(name="num_vendors_l1w", dtype=Int64),
        Field(name="num_sources_l1w", dtype=Int64),
    ],
    source=weekly_source,
    online=True,
    description="Last week's card activity per user, as of each Monday 00:00 UTC.",
)

customers_source = FileSource(
    name="lake_customers",
    path=f"s3://{_BUCKET}/project/customers",
    file_format=DeltaFormat(),
    timestamp_field="updated_at",
    s3_endpoint_override=_S3_ENDPOINT,
    description="Silver table lakehouse.project.customers: the current row per customer.",
)

# Silver keeps only each customer's current row, stamped with its last update:
# an entity row before that update finds no profile (the older versions live in
# the bronze change log). No TTL: a profile stays valid until it changes.
customer_profile = FeatureView(
    name="customer_profile",
    entities=[user],
    ttl=timedelta(0),
    schema=[
        Field(name="age", dtype=Int64),
        Field(name="gender", dtype=String),
        Field(name="location", dtype=String),
        Field(name="occupation", dtype=String),
    ],
    source=customers_source,
    online=True,
    description="Current customer attributes from the source database.",
)
