"""Spark sessions for the lake: Delta, S3 (MinIO or any S3) and the Kafka source.

The JVM libraries Spark needs beyond the pyspark wheel are resolved from
Maven Central once into the cache and passed as `spark.jars`, so a job start
never downloads anything. Endpoints and credentials come from the settings
only, so the same job runs against the native stack, compose or a cloud.
"""

from __future__ import annotations

import os
import re
import sys
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from txlake import artifacts
from txlake.settings import Settings

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

SPARK_VERSION = "4.1.3"
DELTA_VERSION = "4.4.0"
# The Hadoop version inside the pyspark wheel (pyspark/jars/hadoop-client-api-*.jar).
HADOOP_VERSION = "3.4.2"
POSTGRES_JDBC_VERSION = "42.7.8"
# Room for the generated code of every query shape a job runs (see spark_conf).
CODEGEN_CACHE_ENTRIES = 2000

KAFKA_SOURCE = f"org.apache.spark:spark-sql-kafka-0-10_2.13:{SPARK_VERSION}"
# Spark's Kafka delegation-token helper was last published to Maven Central
# for 4.1.1 (4.1.2 and 4.1.3 lack it there); the Kafka source of 4.1.3 is
# needed for its fix of a crash on restart mid-batch (SPARK-55271), and the
# helper's small API did not change between these patch releases.
TOKEN_PROVIDER = "org.apache.spark:spark-token-provider-kafka-0-10_2.13"
JARS = [
    f"io.delta:delta-spark_4.1_2.13:{DELTA_VERSION}",
    f"org.apache.hadoop:hadoop-aws:{HADOOP_VERSION}",
    KAFKA_SOURCE,
    f"{TOKEN_PROVIDER}:4.1.1",
    # Reconcile reads the source database straight into Spark.
    f"org.postgresql:postgresql:{POSTGRES_JDBC_VERSION}",
]


def _artifact_name(jar: Path) -> str:
    """`hadoop-client-api-3.4.2.jar` -> `hadoop-client-api`."""
    return re.sub(r"-\d[\w.\-]*$", "", jar.stem)


def pyspark_jars_dir() -> Path:
    import pyspark

    return Path(pyspark.__file__).parent / "jars"


@lru_cache(maxsize=4)
def spark_jars(cache: Path) -> tuple[str, ...]:
    """Jars to add to Spark: the resolved set minus what pyspark already ships
    (two versions of one library on the classpath is a bug waiting to happen)."""
    libs = artifacts.maven_dependencies(cache, f"spark-{SPARK_VERSION}-jars", JARS,
                                        exclusions={KAFKA_SOURCE: [TOKEN_PROVIDER]})
    shipped = {_artifact_name(j) for j in pyspark_jars_dir().glob("*.jar")}
    return tuple(sorted(str(j) for j in libs.glob("*.jar") if _artifact_name(j) not in shipped))


def _classpath(settings: Settings) -> dict[str, str]:
    """How the extra jars reach Spark. In local mode they go straight on the
    JVM's classpath: `spark.jars` would have the in-process executor copy
    ~750 MB of jars into a temporary folder on every start."""
    jars = spark_jars(settings.cache)
    if settings.spark_master.startswith("local"):
        return {"spark.driver.extraClassPath": ":".join(jars)}
    return {"spark.jars": ",".join(jars)}


def spark_conf(settings: Settings) -> dict[str, str]:
    s3 = urlsplit(settings.s3_endpoint)
    return {
        "spark.master": settings.spark_master,
        "spark.driver.memory": settings.spark_driver_memory,
        **_classpath(settings),
        "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
        "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
        # Instants are stored and shown in UTC, whatever the machine's zone.
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.shuffle.partitions": str(settings.spark_shuffle_partitions),
        # Compiled query code, kept for the next query of the same shape. One
        # micro-batch of ingest runs ~150 distinct pieces (a Delta MERGE alone
        # dozens): with Spark's default of 100 the cache is emptied by every
        # batch, and compiling the same code again cost 1.1-1.9 s a batch.
        "spark.sql.codegen.cache.maxEntries": str(CODEGEN_CACHE_ENTRIES),
        # Tables live on the object store by path; keep Spark's own scratch
        # catalog in the state directory, not in whatever directory we run in.
        "spark.sql.warehouse.dir": str((settings.home / "spark-warehouse").resolve()),
        "spark.ui.showConsoleProgress": "false",
        "spark.hadoop.fs.s3a.endpoint": settings.s3_endpoint,
        "spark.hadoop.fs.s3a.endpoint.region": settings.s3_region,
        "spark.hadoop.fs.s3a.access.key": settings.s3_access_key,
        "spark.hadoop.fs.s3a.secret.key": settings.s3_secret_key.get_secret_value(),
        "spark.hadoop.fs.s3a.path.style.access": "true",
        "spark.hadoop.fs.s3a.connection.ssl.enabled": str(s3.scheme == "https").lower(),
        "spark.hadoop.fs.s3a.aws.credentials.provider":
            "org.apache.hadoop.fs.s3a.SimpleAWSCredentialsProvider",
        # Fail fast when the object store is down instead of retrying for minutes.
        "spark.hadoop.fs.s3a.attempts.maximum": "3",
        "spark.hadoop.fs.s3a.retry.limit": "3",
        "spark.hadoop.fs.s3a.connection.timeout": "15000",
        "spark.databricks.delta.schema.autoMerge.enabled": "false",
        "spark.databricks.delta.snapshotPartitions": str(settings.delta_snapshot_partitions),
        # VACUUM records what it deleted in the table's history (`txlake maintain` reports it);
        # Delta decides by storage type otherwise.
        "spark.databricks.delta.vacuum.logging.enabled": "true",
    }


def session(settings: Settings, app_name: str = "txlake") -> SparkSession:
    """A Spark session configured for the lake (reused within one process)."""
    from pyspark.sql import SparkSession

    # pyspark starts the JVM with the python that runs it; make executors use it too.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    # The driver talks to itself on loopback; do not guess an outside interface.
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    builder = SparkSession.builder.appName(app_name)
    for key, value in spark_conf(settings).items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    return spark


def stop_session() -> None:
    """Stop this process's Spark session and end its JVM.

    `SparkSession.stop()` alone leaves the driver JVM running with all the heap
    it grew until Python exits; a long process that goes on to other work (the
    demo starts the quality runtime's JVM next) gives that memory back here.
    A later `session()` starts a new JVM."""
    from pyspark import SparkContext
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        active.stop()
    gateway = SparkContext._gateway
    if gateway is None:
        return
    gateway.shutdown()
    # pyspark's JVM watches its stdin and exits when it closes.
    jvm = getattr(gateway, "proc", None)
    if jvm is not None:
        jvm.stdin.close()
        jvm.wait(timeout=60)
    SparkContext._gateway = None
    SparkContext._jvm = None
