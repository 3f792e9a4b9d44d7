"""The CDC topics, created up front so they exist before the first change."""

from __future__ import annotations

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient, NewTopic

from txlake.errors import TxlakeError
from txlake.settings import Settings
from txlake.source.schema import CAPTURED_TABLES


def admin(settings: Settings) -> AdminClient:
    return AdminClient({"bootstrap.servers": settings.kafka_bootstrap_servers})


def cdc_topics(settings: Settings) -> list[str]:
    return [settings.cdc_topic(table) for table in CAPTURED_TABLES]


def ensure_topics(settings: Settings) -> list[str]:
    """Create missing CDC topics; returns the names created.

    Debezium would create a topic only with its first event, and an empty
    table has none: readers (and `stack up`) need the topics to exist.
    """
    client = admin(settings)
    existing = set(client.list_topics(timeout=10).topics)
    wanted = [t for t in cdc_topics(settings) if t not in existing]
    if not wanted:
        return []
    config = {"cleanup.policy": "delete", "retention.ms": str(settings.cdc_topic_retention_ms)}
    futures = client.create_topics(
        [NewTopic(t, num_partitions=settings.cdc_topic_partitions, replication_factor=1,
                  config=config) for t in wanted],
        operation_timeout=30,
    )
    for topic, future in futures.items():
        try:
            future.result()
        except KafkaException as error:
            if error.args[0].code() != error.args[0].TOPIC_ALREADY_EXISTS:
                raise TxlakeError(f"kafka: creating topic {topic} failed: {error}") from None
    return wanted

