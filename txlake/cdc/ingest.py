"""`txlake ingest` and `txlake stream`: Kafka change events into the lake.

One Spark Structured Streaming query reads both CDC topics from the offsets
in its checkpoint (so each run reads only what is new) and applies each
micro-batch with `BatchApplier`. `ingest` first waits for the watermark, then
runs with an availableNow trigger and stops; `stream` keeps running.
"""

from __future__ import annotations

import signal
import threading
import time
import uuid
from concurrent.futures import Future
from dataclasses import dataclass

from botocore.exceptions import ClientError

from txlake.artifacts import say
from txlake.cdc import evolution, watermark
from txlake.cdc.apply import BatchApplier, BatchStats, StopRequested
from txlake.cdc.tables import CAPTURED
from txlake.errors import TxlakeError
from txlake.lake import tables as lake
from txlake.lake.lock import lake_lock
from txlake.lake.storage import s3_client
from txlake.settings import Settings

CHECKPOINT = "_txlake/checkpoints/ingest"
RUN_ID_FILE = f"{CHECKPOINT}/txlake-run-id"


@dataclass(frozen=True)
class IngestResult:
    stats: BatchStats
    seconds: float
    watermark_seconds: float

    def as_dict(self) -> dict:
        changes = sum(self.stats.changes.values())
        return {
            "batches": self.stats.batches,
            "changes": dict(self.stats.changes),
            "dead_letters": self.stats.dead_letters,
            "tombstones": self.stats.tombstones,
            "seconds": round(self.seconds, 2),
            "watermark_seconds": round(self.watermark_seconds, 2),
            "changes_per_second": round(changes / self.seconds, 1) if self.seconds else None,
        }


def _run_id(settings: Settings, spark) -> str:
    """A stable id of this checkpoint, part of every Delta transaction id.

    A new checkpoint starts its batch ids at 0 again; a new run id keeps Delta
    from mistaking those batches for ones it already committed.
    """
    client = s3_client(settings)
    try:
        body = client.get_object(Bucket=settings.lake_bucket, Key=RUN_ID_FILE)["Body"].read()
        return body.decode().strip()
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") not in ("NoSuchKey", "404"):
            raise
    # Without a checkpoint every topic would be read again from the start and
    # appended to bronze a second time: refuse rather than duplicate.
    for source in CAPTURED:
        path = lake.changelog(source).path(settings)
        from delta.tables import DeltaTable

        if DeltaTable.isDeltaTable(spark, path) and not spark.read.format("delta").load(path).isEmpty():
            raise TxlakeError(
                f"the ingest checkpoint (s3://{settings.lake_bucket}/{CHECKPOINT}) is missing but "
                f"{source.changelog} has data; restore the checkpoint or wipe the lake "
                "(txlake stack down --volumes)")
    run_id = uuid.uuid4().hex[:12]
    client.put_object(Bucket=settings.lake_bucket, Key=RUN_ID_FILE, Body=run_id.encode())
    return run_id


def _ensure_tables(spark, settings: Settings) -> None:
    for table in lake.INGEST_TABLES:
        if lake.ensure(spark, settings, table):
            say(f"lake: created {table.name} at {table.path(settings)}")
            if not table.internal:
                lake.publish(settings, table)


def _reader(spark, settings: Settings):
    topics = ",".join(settings.cdc_topic(source.name) for source in CAPTURED)
    return (spark.readStream.format("kafka")
            .option("kafka.bootstrap.servers", settings.kafka_bootstrap_servers)
            .option("subscribe", topics)
            .option("startingOffsets", "earliest")
            # A gap in the offsets means Kafka deleted changes we never read:
            # stop loudly instead of silently missing them.
            .option("failOnDataLoss", "true")
            .option("maxOffsetsPerTrigger", settings.ingest_max_batch_records)
            .load())


def run(settings: Settings, *, continuous: bool = False) -> IngestResult:
    from txlake.lake.spark import session

    started = time.monotonic()
    names = [t.name for t in lake.INGEST_TABLES]
    with lake_lock(settings, names, "stream" if continuous else "ingest"):
        # The watermark travels through Debezium while Spark starts: a backlog
        # drains into Kafka in the time the JVM needs anyway.
        mark = None if continuous else _in_background(watermark.wait, settings)
        if continuous:
            watermark.check_slot(settings)
        spark = session(settings, "txlake-stream" if continuous else "txlake-ingest")
        _ensure_tables(spark, settings)
        tables = {source.name: evolution.reconcile_schema(
            spark, settings, evolution.effective_table(spark, settings, source))
            for source in CAPTURED}
        applier = BatchApplier(spark, settings, _run_id(settings, spark), tables,
                               checkpoint_merged=continuous)
        if continuous:
            _run_query(spark, settings, applier, continuous=True)
            return IngestResult(applier.stats, time.monotonic() - started, 0.0)
        # An availableNow query applies what Kafka holds when it starts: one
        # that starts after the watermark arrived covers every change
        # committed before the command. Passes while Debezium still drains a
        # backlog would only compete with it for the same cores and pay a
        # micro-batch's fixed cost more often.
        reached = mark.result()
        say(f"cdc: Kafka holds every change up to LSN {reached.lsn} ({reached.seconds:.1f}s)")
        _run_query(spark, settings, applier, continuous=False)
        return IngestResult(applier.stats, time.monotonic() - started, reached.seconds)


def _in_background(function, *args) -> Future:
    """Run `function` in a daemon thread (one that never holds up the exit of a
    failed command) and return its future."""
    future: Future = Future()

    def target() -> None:
        try:
            future.set_result(function(*args))
        except BaseException as error:  # handed over to whoever reads the future
            future.set_exception(error)

    threading.Thread(target=target, name=f"txlake-{function.__name__}", daemon=True).start()
    return future


def _run_query(spark, settings: Settings, applier: BatchApplier, *, continuous: bool) -> None:
    writer = (_reader(spark, settings).writeStream.foreachBatch(applier)
              .option("checkpointLocation", f"s3a://{settings.lake_bucket}/{CHECKPOINT}")
              .queryName("txlake-ingest"))
    if continuous:
        writer = writer.trigger(processingTime=f"{settings.stream_trigger_seconds} seconds")
    else:
        writer = writer.trigger(availableNow=True)
    query = writer.start()
    stop = _stop_requests() if continuous else threading.Event()
    # Short waits in a loop, so a stop request is seen within a second. The
    # query is stopped from here, never from the signal handler: the handler
    # runs in the middle of a py4j call, and a second call from inside it
    # breaks that call's connection.
    while query.isActive:
        if stop.is_set():
            _stop_between_batches(query, applier)
            break
        query.awaitTermination(1)
    if applier.failure is not None:
        raise applier.failure
    error = query.exception()
    if error is not None and not (stop.is_set() and StopRequested.__name__ in str(error)):
        raise TxlakeError(f"ingest failed: {str(error).splitlines()[0]}")


def _stop_requests() -> threading.Event:
    """Ctrl-C or SIGTERM asks `stream` to stop after the running batch; a
    second one ends the process at once."""
    requested = threading.Event()

    def request(signum, frame):
        requested.set()
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)

    signal.signal(signal.SIGINT, request)
    signal.signal(signal.SIGTERM, request)
    return requested


def _stop_between_batches(query, applier: BatchApplier) -> None:
    say("stream: stopping after the current batch ...")
    # Waits for a batch being applied; one that starts after this refuses to
    # run (so its offsets are not committed) and is applied by the next run.
    applier.refuse_batches()
    query.stop()
    say(f"stream: stopped after {applier.stats.batches} batch(es)")
