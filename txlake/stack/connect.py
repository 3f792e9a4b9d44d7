"""Kafka Connect (distributed mode, one worker) with the Debezium PostgreSQL connector."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from txlake import artifacts
from txlake.settings import Settings
from txlake.stack import versions
from txlake.stack.kafka import jvm_command, kafka_libs
from txlake.stack.service import Context, Launch, Service, http_json
from txlake.templates import render_file

PLUGIN = "debezium-connector-postgres"


def debezium_plugins(ctx: Context) -> Path:
    """The plugin directory holding Debezium's PostgreSQL connector, unpacked once."""
    root = ctx.cache / f"debezium-{versions.DEBEZIUM}"
    archive = artifacts.download(
        artifacts.maven_url("io.debezium", PLUGIN, versions.DEBEZIUM, "plugin", "tar.gz"),
        versions.DEBEZIUM_PLUGIN_SHA256,
        root / f"{PLUGIN}-{versions.DEBEZIUM}-plugin.tar.gz",
    )
    return artifacts.unpack_tar(archive, root / "plugins")


class Connect(Service):
    name = "connect"
    after = ("kafka",)
    config_files = ("config/kafka/connect-distributed.properties", "config/kafka/log4j2.properties")

    def endpoint(self, settings: Settings) -> str:
        return settings.kafka_connect_url

    def ports(self, settings: Settings) -> list[tuple[str, int]]:
        from urllib.parse import urlsplit

        return [(urlsplit(settings.kafka_connect_url).hostname or "127.0.0.1", settings.kafka_connect_port)]

    def install(self, ctx: Context) -> None:
        kafka_libs(ctx)
        debezium_plugins(ctx)

    def prepare(self, ctx: Context) -> Launch:
        libs = kafka_libs(ctx)
        plugins = debezium_plugins(ctx)
        conf = ctx.conf_dir(self.name)
        conf.mkdir(parents=True, exist_ok=True)
        properties = conf / "connect-distributed.properties"
        [(host, port)] = self.ports(ctx.settings)
        values = {**ctx.settings.as_env(reveal=False), "CONNECT_HOST": host, "CONNECT_PORT": port,
                  "TXLAKE_CONNECT_PLUGINS": plugins}
        properties.write_text(render_file(
            ctx.config_dir / "kafka" / "connect-distributed.properties", values))
        # The connector's config says ${env:DEBEZIUM_PASSWORD}; the worker resolves it.
        env = {**ctx.base_env(),
               "DEBEZIUM_PASSWORD": ctx.settings.debezium_password.get_secret_value()}
        return Launch(
            command=jvm_command(ctx, libs, "org.apache.kafka.connect.cli.ConnectDistributed",
                                str(properties)),
            env=env,
        )

    def healthy(self, ctx: Context) -> bool:
        plugins = http_json(f"{ctx.settings.kafka_connect_url}/connector-plugins") or []
        return any("PostgresConnector" in p.get("class", "") for p in plugins)

    def details(self, ctx: Context) -> dict[str, Any]:
        from txlake.cdc import connector

        try:
            status = connector.state(ctx.settings)
        except Exception as error:  # noqa: BLE001 - status reports, it does not fail
            return {"healthy": False, "connector": {"error": str(error)}}
        return {"healthy": connector.running(status), "connector": status}
