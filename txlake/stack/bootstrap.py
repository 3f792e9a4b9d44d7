"""Configure a running stack through its endpoints only.

The native `stack up` runs this after its services are healthy; the compose
file's one-shot `init` container runs the same code (`txlake stack init`), so
both stacks end in the same state. Every step is idempotent.
"""

from __future__ import annotations

from txlake.artifacts import say
from txlake.cdc import connector, topics
from txlake.lake import storage
from txlake.settings import Settings
from txlake.source import schema


def initialize(settings: Settings, *, log_hint: str = "") -> None:
    schema.apply(settings)
    if storage.ensure_bucket(settings):
        say(f"minio: created bucket {settings.lake_bucket}")
    created = topics.ensure_topics(settings)
    if created:
        say(f"kafka: created topics {', '.join(created)}")
    outcome = connector.register(settings)
    if outcome != "unchanged":
        say(f"connect: connector {settings.cdc_connector_name} {outcome}")
    connector.wait_running(settings, log_hint=log_hint)
