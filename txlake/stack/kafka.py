"""Kafka in KRaft mode (one node, broker and controller) from Maven Central jars."""

from __future__ import annotations

import base64
import logging
import uuid
from pathlib import Path

from confluent_kafka.admin import AdminClient

from txlake import artifacts
from txlake.settings import Settings
from txlake.stack import versions
from txlake.stack.service import Context, Launch, Service, java_executable
from txlake.templates import render_file

HEAP = "-Xmx512m"
# librdkafka logs connection refusals while the broker starts; that is expected.
_QUIET = logging.getLogger("txlake.kafka.health")
_QUIET.setLevel(logging.CRITICAL)
_QUIET.propagate = False


def kafka_libs(ctx: Context) -> Path:
    """The broker's and Connect's runtime classpath, resolved once with Maven."""
    return artifacts.maven_dependencies(ctx.cache, f"kafka-{versions.KAFKA}", [
        f"org.apache.kafka:kafka_{versions.SCALA}:{versions.KAFKA}",
        f"org.apache.kafka:connect-runtime:{versions.KAFKA}",
        f"org.apache.kafka:connect-json:{versions.KAFKA}",
        # Kafka logs through SLF4J 1.x: without this binding its log is silent.
        f"org.apache.logging.log4j:log4j-slf4j-impl:{versions.LOG4J}",
    ])


def jvm_command(ctx: Context, libs: Path, main: str, *args: str) -> list[str]:
    return [
        java_executable(), HEAP, "-Xms128m", "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=50",
        "-Djava.awt.headless=true",
        f"-Dlog4j2.configurationFile={ctx.config_dir / 'kafka' / 'log4j2.properties'}",
        "-cp", f"{libs}/*", main, *args,
    ]


def template_values(ctx: Context) -> dict[str, object]:
    s = ctx.settings
    host = s.kafka_bootstrap_servers.split(",")[0].rsplit(":", 1)[0]
    return {
        **s.as_env(reveal=False),
        "KAFKA_HOST": host,
        "TXLAKE_KAFKA_DATA": ctx.data_dir("kafka") / "log",
    }


class Kafka(Service):
    name = "kafka"
    stop_timeout = 60.0  # a clean shutdown spares the next start a log recovery
    config_files = ("config/kafka/server.properties", "config/kafka/log4j2.properties")

    def endpoint(self, settings: Settings) -> str:
        return settings.kafka_bootstrap_servers

    def ports(self, settings: Settings) -> list[tuple[str, int]]:
        host = settings.kafka_bootstrap_servers.split(",")[0].rsplit(":", 1)[0]
        return [(host, settings.kafka_port), (host, settings.kafka_controller_port)]

    def install(self, ctx: Context) -> None:
        kafka_libs(ctx)

    def prepare(self, ctx: Context) -> Launch:
        libs = kafka_libs(ctx)
        conf = ctx.conf_dir(self.name)
        conf.mkdir(parents=True, exist_ok=True)
        properties = conf / "server.properties"
        properties.write_text(render_file(ctx.config_dir / "kafka" / "server.properties",
                                          template_values(ctx)))
        data = ctx.data_dir(self.name)
        if not (data / "log" / "meta.properties").exists():
            self._format(ctx, libs, properties, data)
        return Launch(command=jvm_command(ctx, libs, "kafka.Kafka", str(properties)),
                      env=ctx.base_env())

    def _format(self, ctx: Context, libs: Path, properties: Path, data: Path) -> None:
        data.mkdir(parents=True, exist_ok=True)
        id_file = data / "cluster.id"
        if not id_file.exists():
            # KRaft cluster ids are 16 random bytes, url-safe base64 without padding.
            raw = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
            id_file.write_text(("A" + raw[1:]) if raw.startswith("-") else raw)
        log = ctx.log_dir / "kafka-format.log"
        artifacts._run(
            jvm_command(ctx, libs, "kafka.tools.StorageTool", "format", "--standalone",
                        "--ignore-formatted", "-t", id_file.read_text(), "-c", str(properties)),
            "kafka: formatting the KRaft log directory", log,
        )

    def healthy(self, ctx: Context) -> bool:
        admin = AdminClient({"bootstrap.servers": ctx.settings.kafka_bootstrap_servers,
                             "socket.connection.setup.timeout.ms": 1000, "log_level": 0,
                             "logger": _QUIET})
        try:
            admin.list_topics(timeout=2)
            return True
        except Exception:  # noqa: BLE001 - any failure to answer means "not healthy yet"
            return False
