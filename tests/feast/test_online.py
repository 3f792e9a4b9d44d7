"""Online store: `txlake feast materialize` publishes exactly the gold rows."""

from __future__ import annotations

import os
import sqlite3
import sys
from datetime import date, timedelta

import pytest
from feast.infra.key_encoding_utils import serialize_entity_key
from feast.protos.feast.types.EntityKey_pb2 import EntityKey
from feast.protos.feast.types.Value_pb2 import Value

from txlake.feast import ops
from txlake.feast.online import entity_key_bytes

WEEKLY = ops.WEEKLY_FEATURES




def online_rows(settings, users):
    return {row["user_id"]: {f: row[f] for f in WEEKLY} for row in ops.online(settings, users)}


def expected(gold, week, users):
    return {u: {f: gold.rows[(u, week)][f] for f in WEEKLY} for u in users}


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_online_features_of_every_user_of_the_latest_week_equal_the_gold_rows_in_trino(
        stack, gold, applied, backend):
    settings = on(stack, backend)
    ops.materialize(settings, gold.first, gold.second)
    users = gold.users(gold.second)
    assert online_rows(settings, users) == expected(gold, gold.second, users)


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_materializing_the_same_window_twice_changes_nothing(stack, gold, applied, backend):
    settings = on(stack, backend)
    ops.materialize(settings, gold.first, gold.second)
    before = _dump(settings)
    ops.materialize(settings, gold.first, gold.second)
    # PostgreSQL: `xmin` is in the dump, so an identical row written again would show.
    assert _dump(settings) == before


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_an_older_window_materialized_later_does_not_replace_newer_values(stack, gold, applied,
                                                                           backend):
    settings = on(stack, backend)
    ops.materialize(settings, gold.first, gold.second)
    ops.materialize(settings, gold.first - timedelta(days=7), gold.first)  # a backfill of the week before
    users = gold.users(gold.second)
    assert online_rows(settings, users) == expected(gold, gold.second, users)
    # ... while a user only active in the older week has that week's values.
    only_first = sorted(set(gold.users(gold.first)) - set(users))
    assert online_rows(settings, only_first) == expected(gold, gold.first, only_first)


def test_the_bulk_writer_encodes_entity_keys_exactly_like_feast():
    for user in ("u000001", "", "ünïcode-用户"):
        key = EntityKey(join_keys=["user_id"], entity_values=[Value(string_val=user)])
        assert entity_key_bytes("user_id", user) == serialize_entity_key(key, 3)


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_online_reads_return_what_feasts_own_store_returns(stack, tmp_path, request, backend):
    """txlake reads the online store with less work per value; the answer must
    stay Feast's, here for rows Feast's own writer wrote, nulls and an unknown
    user included."""
    import pandas as pd
    from feast import FeatureStore

    sys.path.insert(0, str(ops.repo_path()))
    import definitions

    ops.ensure_online_database(stack.model_copy(update={"feast_online_store": backend}))
    fs = FeatureStore(config=ops.repo_config(stack, tmp_path, f"txlake_read_test_{backend}", backend),
                      repo_path=str(ops.repo_path()))
    fs.apply([definitions.user, definitions.user_weekly_features])
    request.addfinalizer(fs.teardown)
    stamp = pd.Timestamp("2030-01-14", tz="UTC")
    rows = pd.DataFrame({"user_id": ["u1", "u2"], "feature_timestamp": [stamp, stamp + timedelta(days=7)],
                         "created_at": [stamp, stamp],
                         **{f: [1, None] if "num" in f else [12.5, None] for f in WEEKLY}})
    fs.write_to_online_store("user_weekly_features", rows)
    view = fs.get_feature_view("user_weekly_features")
    keys = [EntityKey(join_keys=["user_id"], entity_values=[Value(string_val=u)]) for u in ("u2", "u9", "u1")]

    store = fs._get_provider().online_store
    stock, inner = store._delegate(fs.config)
    # As get_online_features asks: every feature of the view by name.
    names = [f.name for f in view.features]
    ours = store.online_read(fs.config, view, keys, names)
    assert ours == stock.online_read(inner, view, keys, names)
    assert ours[1] == (None, None) and ours[2][1]["num_transactions_l1w"] == Value(int64_val=1)


def test_materialize_on_a_state_nobody_applied_registers_the_repo_first(stack, gold, tmp_path,
                                                                       monkeypatch):
    """The weekly DAG switched on in a fresh stack, before the demo or `feast apply` ran."""
    # Feast reads its settings from the environment, so txlake exports them
    # there; the session's own state directory must be back for later tests.
    monkeypatch.setenv("TXLAKE_HOME", os.environ["TXLAKE_HOME"])
    fresh = stack.model_copy(update={"txlake_home": tmp_path / "state"})
    assert ops.registered_views(ops.store(fresh)) == set()  # not even a registry file
    ops.materialize(fresh, date(2099, 1, 5), date(2099, 1, 12))
    assert ops.registered_views(ops.store(fresh)) == set(ops.VIEWS)


def test_materialize_with_the_end_before_the_start_is_a_one_line_error(txlake_cli):
    run = txlake_cli("feast", "materialize", "--start", "2040-01-09", "--end", "2040-01-02")
    assert run.returncode == 1
    assert run.stderr.strip() == "txlake: error: --end (2040-01-02) is before --start (2040-01-09)"


def on(stack, backend: str):
    """The session's settings with `backend` as the online store, its tables created."""
    settings = stack.model_copy(update={"feast_online_store": backend})
    ops.apply(settings)
    return settings


def _dump(settings) -> list[tuple]:
    table = "txlake_user_weekly_features"
    if settings.feast_online_store == "sqlite":
        with sqlite3.connect(ops.state_dir(settings) / "online.db") as conn:
            return sorted(conn.execute(f"SELECT * FROM {table}").fetchall())
    import psycopg

    dsn = settings.model_copy(update={"postgres_db": settings.feast_postgres_db}).postgres_dsn()
    with psycopg.connect(dsn) as conn:
        return sorted(conn.execute(f"SELECT xmin::text, * FROM {table}").fetchall())
