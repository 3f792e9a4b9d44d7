"""`txlake ingest`: the lake catches up with the source, exactly, and idempotently."""

from __future__ import annotations

import json
from datetime import date

import pytest

from txlake.cdc.tables import CAPTURED, TRANSACTIONS
from txlake.lake import tables as lake

pytestmark = pytest.mark.stack


def test_generate_then_ingest_with_no_sleep_leaves_reconcile_clean(stack, ingest_now,
                                                                   reconcile_now, generate):
    customers, transactions = generate
    customers(300, seed=5)
    transactions(date(2026, 10, 5), 5_000, seed=5, updates=0.1, deletes=0.05)

    result = ingest_now()

    assert sum(result.stats.changes.values()) > 0
    report = reconcile_now()
    assert report["clean"], report


def test_a_backlog_bigger_than_a_batch_is_applied_in_several_and_stays_exact(
        stack, spark, ingest_now, reconcile_now, generate, delta_version):
    from delta.tables import DeltaTable

    customers, transactions = generate
    customers(100, seed=7)
    ingest_now()
    # 2,000 inserts committed first, then 400 updates and 200 deletes, most of
    # them of those rows: in batches of 1,000 records, the last batch changes
    # rows an earlier one appended, which silver has to merge.
    transactions(date(2026, 10, 12), 2_000, seed=7, updates=0.2, deletes=0.1)
    silver = lake.silver(TRANSACTIONS).path(stack)
    before = delta_version(silver)

    result = ingest_now(ingest_max_batch_records=1_000)

    assert result.stats.batches >= 3
    operations = {row.operation for row in DeltaTable.forPath(spark, silver).history()
                  .where(f"version > {before}").select("operation").collect()}
    assert operations == {"WRITE", "MERGE"}
    report = reconcile_now()
    assert report["clean"], report


def test_ingest_with_nothing_new_commits_nothing(stack, ingest_now, delta_version):
    ingest_now()
    paths = [t.path(stack) for s in CAPTURED for t in (lake.silver(s), lake.changelog(s))]
    before = {p: delta_version(p) for p in paths}

    result = ingest_now()

    # No new offsets on the topics: the availableNow query runs no batch at all.
    assert result.stats.batches == 0
    assert {p: delta_version(p) for p in paths} == before


def test_the_cli_reports_its_figures_as_json_and_reconcile_exits_zero(stack, txlake_cli):
    run = txlake_cli("ingest", "--json")

    assert run.returncode == 0, run.stderr
    figures = json.loads(run.stdout)
    assert set(figures) >= {"batches", "changes", "dead_letters", "seconds"}
    check = txlake_cli("reconcile", "--json")
    assert check.returncode == 0, check.stdout + check.stderr
    assert json.loads(check.stdout)["clean"] is True
