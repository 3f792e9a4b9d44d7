"""Benchmark the native stack: install, start-up, idle memory, commit-to-Kafka latency.

    .venv/bin/python bench/bench_stack.py [--commits 1000] [--cold]

Uses its own state directory (.txlake-bench/) so it never touches your data,
and stops what it started at the end. --cold also installs everything into an
empty cache (downloads and the MinIO build: several minutes).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
os.environ["TXLAKE_HOME"] = str(ROOT / ".txlake-bench")

import psycopg  # noqa: E402
from confluent_kafka import Consumer, TopicPartition  # noqa: E402
from report import percentile, print_table  # noqa: E402

from txlake.settings import Settings, get_settings  # noqa: E402
from txlake.stack import manager  # noqa: E402
from txlake.stack.service import Context  # noqa: E402


def timed(fn, *args, **kwargs) -> float:
    started = time.monotonic()
    fn(*args, **kwargs)
    return time.monotonic() - started


def cold_install(settings: Settings) -> float:
    cache = Path(tempfile.mkdtemp(prefix="txlake-cold-cache-"))
    try:
        cold = settings.model_copy(update={"txlake_cache": cache})
        ctx = Context(cold)
        return timed(lambda: [s.install(ctx) for s in manager.SERVICES])
    finally:
        shutil.rmtree(cache, ignore_errors=True)


def commit_to_kafka_latency(settings: Settings, commits: int, rate: float) -> list[float]:
    """Seconds from each single-row COMMIT returning to its event being consumed."""
    topic = settings.cdc_topic("txlake_watermark")
    consumer = Consumer({"bootstrap.servers": settings.kafka_bootstrap_servers,
                         "group.id": f"bench-{uuid.uuid4()}", "enable.auto.commit": False,
                         "fetch.wait.max.ms": 10})
    partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
    consumer.assign([TopicPartition(topic, p, consumer.get_watermark_offsets(
        TopicPartition(topic, p), timeout=10)[1]) for p in partitions])
    committed: dict[str, float] = {}
    latencies: list[float] = []
    prefix = f"bench-{uuid.uuid4().hex[:8]}-"
    done = threading.Event()

    def consume() -> None:
        while len(latencies) < commits and not done.is_set():
            message = consumer.poll(0.1)
            if message is None or message.error() or message.value() is None:
                continue
            arrived = time.monotonic()
            event = json.loads(message.value())
            key = (event.get("after") or {}).get("id", "")
            if event.get("op") == "c" and key in committed:
                latencies.append(arrived - committed[key])

    reader = threading.Thread(target=consume)
    reader.start()
    with psycopg.connect(settings.postgres_dsn(), autocommit=True) as conn:
        for i in range(commits):
            key = f"{prefix}{i}"
            conn.execute("INSERT INTO txlake_watermark (id) VALUES (%s)", (key,))
            committed[key] = time.monotonic()
            time.sleep(1 / rate)
        reader.join(timeout=60)
        done.set()
        conn.execute("DELETE FROM txlake_watermark WHERE id LIKE %s", (prefix + "%",))
    consumer.close()
    return latencies


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--commits", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=50.0, help="single-row commits per second")
    parser.add_argument("--cold", action="store_true", help="also time an install into an empty cache")
    args = parser.parse_args()
    settings = get_settings()
    rows: list[tuple[str, str]] = []

    if args.cold:
        rows.append(("cold install (empty cache)", f"{cold_install(settings):.0f} s"))
    manager.down(settings, volumes=True)
    rows.append(("stack up, fresh state (cache warm)", f"{timed(manager.up, settings):.1f} s"))
    manager.down(settings)
    rows.append(("stack up, existing state", f"{timed(manager.up, settings):.1f} s"))
    rows.append(("stack up, already running", f"{timed(manager.up, settings):.1f} s"))
    try:
        time.sleep(15)  # let start-up work settle before reading idle memory
        total = 0
        for row in manager.status(settings):
            total += row["rss_bytes"] or 0
            rows.append((f"idle RSS {row['name']}", f"{(row['rss_bytes'] or 0) / 2**20:.0f} MiB"))
        rows.append(("idle RSS total", f"{total / 2**20:.0f} MiB"))
        latencies = commit_to_kafka_latency(settings, args.commits, args.rate)
        rows.append(("commit-to-Kafka events received", f"{len(latencies)}/{args.commits}"))
        if latencies:
            rows.append(("commit-to-Kafka median", f"{statistics.median(latencies) * 1000:.0f} ms"))
            rows.append(("commit-to-Kafka p99", f"{percentile(latencies, 0.99) * 1000:.0f} ms"))
            rows.append(("commit-to-Kafka max", f"{max(latencies) * 1000:.0f} ms"))
    finally:
        manager.down(settings, volumes=True)

    print_table(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
