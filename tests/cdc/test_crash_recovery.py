"""Killing ingest in the middle of a batch loses and duplicates nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import date

import pytest
from pyspark.sql import functions as F

from txlake.cdc.tables import TRANSACTIONS
from txlake.lake import tables as lake
from txlake.lake.storage import s3_client

pytestmark = pytest.mark.stack


def _log_entries(settings, table: lake.LakeTable) -> int:
    prefix = table.path(settings).split(f"{settings.lake_bucket}/", 1)[1] + "/_delta_log/"
    # Paged: a listing returns 1,000 keys at most, and a long-lived log holds more.
    pages = s3_client(settings).get_paginator("list_objects_v2").paginate(
        Bucket=settings.lake_bucket, Prefix=prefix)
    return sum(1 for page in pages for o in page.get("Contents", []) if o["Key"].endswith(".json"))


def test_sigkill_between_bronze_and_silver_then_restart_converges(stack, spark, ingest_now,
                                                                  reconcile_now, generate,
                                                                  tmp_path):
    customers, transactions = generate
    customers(500, seed=9)
    ingest_now()  # start from a caught-up lake
    transactions(date(2026, 10, 12), 60_000, seed=9, updates=0.2, deletes=0.1)
    bronze = lake.changelog(TRANSACTIONS)
    commits_before = _log_entries(stack, bronze)

    victim_log = open(tmp_path / "victim.log", "w")  # noqa: SIM115 - closed below
    victim = subprocess.Popen([sys.executable, "-m", "txlake", "ingest"],
                              stdout=victim_log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 600
    while _log_entries(stack, bronze) == commits_before and victim.poll() is None:
        assert time.monotonic() < deadline, "ingest never committed to bronze"
        time.sleep(0.05)
    victim_log.close()
    assert victim.poll() is None, (
        "ingest ended before its first bronze commit:\n" + (tmp_path / "victim.log").read_text())
    # Bronze just committed; silver's MERGE of the same batch is under way.
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait()

    ingest_now()

    report = reconcile_now()
    assert report["clean"], report
    changelog = spark.read.format("delta").load(bronze.path(stack))
    assert changelog.groupBy("topic", "partition", "offset").count().where("count > 1").count() == 0
    silver = spark.read.format("delta").load(lake.silver(TRANSACTIONS).path(stack))
    assert silver.groupBy(F.col("transaction_id")).count().where("count > 1").count() == 0
