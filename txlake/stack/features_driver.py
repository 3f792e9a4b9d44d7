"""The warm Spark driver that `txlake features` runs on, as a stack service."""

from __future__ import annotations

import sys

from txlake.settings import Settings, project_root
from txlake.stack.service import Context, Launch, Service, http_json


class FeaturesDriver(Service):
    name = "features-driver"
    # It takes the lake lock in PostgreSQL and works on the lake in MinIO.
    after = ("postgres", "minio")
    # The running job finishes first (a week's combine takes seconds, a
    # backfill longer), then the JVM ends.
    stop_timeout = 120.0

    def endpoint(self, settings: Settings) -> str:
        return (settings.features_driver_url
                or f"http://{settings.features_driver_host}:{settings.features_driver_port}")

    def ports(self, settings: Settings) -> list[tuple[str, int]]:
        return [(settings.features_driver_host, settings.features_driver_port)]

    def install(self, ctx: Context) -> None:
        from txlake.lake.spark import spark_jars

        spark_jars(ctx.cache)  # resolved once into the cache, as for every Spark job

    def prepare(self, ctx: Context) -> Launch:
        s = ctx.settings
        return Launch(
            command=[sys.executable, "-m", "txlake", "features-driver",
                     "--host", s.features_driver_host, "--port", str(s.features_driver_port)],
            env={
                **ctx.base_env(),
                # The driver's settings are the stack's: same state directory,
                # checkout and credentials (the lake lock's and the lake's).
                "TXLAKE_HOME": str(s.home),
                "TXLAKE_PROJECT_DIR": str(project_root()),
                "POSTGRES_USER": s.postgres_user,
                "POSTGRES_PASSWORD": s.postgres_password.get_secret_value(),
                "S3_ACCESS_KEY": s.s3_access_key,
                "S3_SECRET_KEY": s.s3_secret_key.get_secret_value(),
                "TRINO_USER": s.trino_user,  # a new gold table is registered in Trino
                "PYTHONUNBUFFERED": "1",
            },
        )

    def healthy(self, ctx: Context) -> bool:
        return http_json(self.endpoint(ctx.settings) + "/health") is not None
