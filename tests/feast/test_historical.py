"""Training sets: get_historical_features is point-in-time correct against the gold table."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

import pandas as pd
import pytest
from feast.errors import FeastEntityDFMissingColumnsError, FeastError

from txlake.feast import ops
from txlake.features.aggregate import midnight

WEEKLY = ops.WEEKLY_FEATURES
REFS = [f"user_weekly_features:{f}" for f in WEEKLY]


def at(day, **delta) -> datetime:
    """An instant relative to `day` 00:00 UTC."""
    return midnight(day) + timedelta(**delta)


def reference(gold, user: str, t: datetime) -> dict | None:
    """Independently of Feast: the newest row of `user` stamped at or before t,
    if t is at most 7 days (the TTL) after its stamp; else no row. Feast's TTL
    bound is inclusive: at exactly D a user without a row stamped D still gets
    the row stamped D-7d (a week that ended at D, so nothing leaks)."""
    rows = [r for (u, _), r in gold.rows.items() if u == user and r["feature_timestamp"] <= t]
    newest = max(rows, key=lambda r: r["feature_timestamp"], default=None)
    if newest is None or t > newest["feature_timestamp"] + timedelta(days=7):
        return None
    return {f: newest[f] for f in WEEKLY}


def test_each_entity_row_gets_the_row_of_its_week_or_null_past_the_ttl(stack, gold, applied):
    d = gold.second
    users = sorted(set(gold.users(gold.first)) | set(gold.users(d)))
    times = [at(d, seconds=-1), at(d), at(d, days=3), at(d, days=7, seconds=1)]
    entity_df = pd.DataFrame([(u, t) for u in users for t in times], columns=["user_id", "event_timestamp"])
    entity_df["event_timestamp"] = pd.to_datetime(entity_df["event_timestamp"], utc=True)
    got = ops.store(stack).get_historical_features(entity_df=entity_df, features=REFS).to_df()
    assert len(got) == len(entity_df)
    answers = {}
    for row in got.to_dict("records"):
        values = {f: row[f] for f in WEEKLY}
        missing = all(v is None or (isinstance(v, float) and math.isnan(v)) for v in values.values())
        answers[(row["user_id"], row["event_timestamp"].to_pydatetime())] = None if missing else values
    expected = {(u, t): reference(gold, u, t) for u in users for t in times}
    assert answers == expected
    # The cases are not vacuous: each time has users with a row, and D+7d+1s has none.
    assert all(any(expected[(u, t)] for u in users) for t in times[:3])
    assert not any(expected[(u, times[3])] for u in users)


def test_an_entity_dataframe_without_the_join_key_is_feasts_missing_columns_error(stack, gold, applied):
    entity_df = pd.DataFrame({"customer_id": ["u000001"],
                              "event_timestamp": pd.to_datetime([at(gold.second)], utc=True)})
    with pytest.raises(FeastEntityDFMissingColumnsError, match="user_id"):
        ops.store(stack).get_historical_features(entity_df=entity_df, features=REFS).to_df()


def test_naive_entity_timestamps_are_an_error_not_a_guess(stack, gold, applied):
    entity_df = pd.DataFrame({"user_id": ["u000001"], "event_timestamp": [datetime(2040, 1, 1)]})
    with pytest.raises(FeastError, match="naive timestamps"):
        ops.store(stack).get_historical_features(entity_df=entity_df, features=REFS).to_df()
