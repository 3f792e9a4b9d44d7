"""Feast figures: online lookup latency per online store and materialization speed.

Runs against the running stack on a copy: a features-shaped Delta table
written with delta-rs under s3://<bucket>/_scratch/feast_bench/ (USERS users,
WEEKS weeks), registered in a Feast project of its own whose registry and
SQLite file live in a temporary directory, so the real repo and gold table are
untouched. Measured in-process, as a model server would call Feast.

    make bench-feast            (USERS=90000 LOOKUPS=10000 by default)
"""

from __future__ import annotations

import os
import random
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import print_table  # noqa: E402

from txlake.feast import ops  # noqa: E402
from txlake.feast.offline import LakeOfflineStoreConfig, storage_options  # noqa: E402
from txlake.settings import get_settings  # noqa: E402

USERS = int(os.environ.get("USERS", "90000"))
WEEKS = int(os.environ.get("WEEKS", "2"))
LOOKUPS = int(os.environ.get("LOOKUPS", "10000"))
FIRST_WEEK = date(2025, 1, 6)  # a Monday


def features_table(users: int, weeks: int, seed: int = 7) -> pa.Table:
    """Gold-shaped rows (DESIGN.md `features` columns) with plausible values."""
    rng = np.random.default_rng(seed)
    parts = []
    for w in range(weeks):
        as_of = FIRST_WEEK + timedelta(days=7 * w)
        stamp = datetime.combine(as_of, datetime.min.time(), tzinfo=UTC)
        n = rng.poisson(6, users) + 1
        lo = rng.lognormal(2.5, 1.0, users).round(2)
        hi = (lo + rng.lognormal(3.0, 1.0, users)).round(2)
        avg = ((lo + hi) / 2).round(2)
        parts.append(pa.table({
            "user_id": [f"u{i:07d}" for i in range(users)],
            "as_of_date": pa.array([as_of] * users, pa.date32()),
            "num_transactions_l1w": pa.array(n, pa.int64()),
            "total_amount_l1w": avg * n, "avg_amount_l1w": avg, "min_amount_l1w": lo,
            "max_amount_l1w": hi,
            "num_vendors_l1w": pa.array(np.minimum(n, rng.integers(1, 9, users)), pa.int64()),
            "num_sources_l1w": pa.array(rng.integers(1, 5, users), pa.int64()),
            "feature_timestamp": pa.array([stamp] * users, pa.timestamp("us", tz="UTC")),
            "created_at": pa.array([stamp] * users, pa.timestamp("us", tz="UTC")),
        }))
    return pa.concat_tables(parts)


def write_copy(settings, table: pa.Table) -> str:
    from deltalake import write_deltalake

    path = f"s3://{settings.lake_bucket}/_scratch/feast_bench/features"
    cfg = LakeOfflineStoreConfig(s3_endpoint=settings.s3_endpoint, s3_region=settings.s3_region,
                                 s3_access_key=settings.s3_access_key,
                                 s3_secret_key=settings.s3_secret_key.get_secret_value())
    write_deltalake(path, table, mode="overwrite", storage_options=storage_options(cfg))
    return path


def bench_store(settings, path: str, state: Path, backend: str) -> list[tuple[str, str]]:
    from feast import Entity, FeatureStore, FeatureView, FileSource, ValueType
    from feast.data_format import DeltaFormat

    sys.path.insert(0, str(ops.repo_path()))
    import definitions

    project = f"txlake_bench_{backend}"
    fs = FeatureStore(config=ops.repo_config(settings, state, project, backend),
                      repo_path=str(ops.repo_path()))
    source = FileSource(name="bench_features", path=path, file_format=DeltaFormat(),
                        timestamp_field="feature_timestamp", created_timestamp_column="created_at")
    view = FeatureView(name="user_weekly_features", entities=[definitions.user],
                       ttl=timedelta(days=7), schema=definitions.user_weekly_features.schema,
                       source=source)
    user = Entity(name="user", join_keys=["user_id"], value_type=ValueType.STRING)
    if backend == "postgres":
        ops.ensure_online_database(settings.model_copy(update={"feast_online_store": "postgres"}))
    fs.apply([user, view])
    # First an empty table (a new stack), then the steady state of the weekly
    # DAG: the next week over it, every entity's rows replaced by newer values.
    rows = []
    for week in range(WEEKS):
        stamp = datetime.combine(FIRST_WEEK + timedelta(days=7 * week), datetime.min.time(), tzinfo=UTC)
        started = time.perf_counter()
        fs.materialize(stamp - timedelta(days=6), stamp)
        seconds = time.perf_counter() - started
        what = "into an empty store" if week == 0 else "over the week before"
        rows.append((f"{backend}: materialize {USERS:,} users, week {week + 1} {what}",
                     f"{seconds:.2f} s = {USERS / seconds:,.0f} rows/s"))
    refs = [f"user_weekly_features:{f.name}" for f in view.features]
    rng = random.Random(1)
    ids = [f"u{i:07d}" for i in range(USERS)]
    for batch in (1, 100):
        fs.get_online_features(features=refs, entity_rows=[{"user_id": u} for u in ids[:batch]])
        times = []
        for _ in range(LOOKUPS):
            entity_rows = [{"user_id": u} for u in rng.sample(ids, batch)]
            t0 = time.perf_counter()
            fs.get_online_features(features=refs, entity_rows=entity_rows)
            times.append(time.perf_counter() - t0)
        p50, p99 = np.percentile(np.array(times) * 1000, [50, 99])
        rows.append((f"{backend}: {batch} user(s) x 7 features, {LOOKUPS:,} lookups",
                     f"p50 {p50:.2f} ms, p99 {p99:.2f} ms"))
    fs.teardown()
    return rows


def main() -> None:
    settings = get_settings()
    t0 = time.perf_counter()
    path = write_copy(settings, features_table(USERS, WEEKS))
    rows = [(f"write the copy ({USERS * WEEKS:,} rows, delta-rs)", f"{time.perf_counter() - t0:.1f} s")]
    backends = os.environ.get("BACKENDS", "sqlite,postgres").split(",")
    for backend in backends:
        with tempfile.TemporaryDirectory(prefix="txlake-feast-bench-") as state:
            rows += bench_store(settings, path, Path(state), backend)
    print_table(rows)
    print("\nShared 2-core machine: figures vary with what else runs.")


if __name__ == "__main__":
    main()
