"""MinIO, built from its Go module, as the stack's S3-compatible object store."""

from __future__ import annotations

from pathlib import Path

from txlake import artifacts
from txlake.settings import Settings
from txlake.stack import versions
from txlake.stack.service import Context, Launch, Service, http_json


def minio_binary(ctx: Context) -> Path:
    return artifacts.go_install(ctx.cache, versions.MINIO_MODULE, versions.MINIO_VERSION, "minio")


class Minio(Service):
    name = "minio"

    def endpoint(self, settings: Settings) -> str:
        return settings.s3_endpoint

    def ports(self, settings: Settings) -> list[tuple[str, int]]:
        return [(settings.s3_host, settings.s3_port), (settings.s3_host, settings.s3_console_port)]

    def install(self, ctx: Context) -> None:
        minio_binary(ctx)

    def prepare(self, ctx: Context) -> Launch:
        s = ctx.settings
        data = ctx.data_dir(self.name)
        data.mkdir(parents=True, exist_ok=True)
        env = {
            **ctx.base_env(),
            "MINIO_ROOT_USER": s.s3_access_key,
            "MINIO_ROOT_PASSWORD": s.s3_secret_key.get_secret_value(),
            "MINIO_REGION": s.s3_region,
            "MINIO_UPDATE": "off",
            # Keep MinIO's own state next to the data, not in ~/.minio.
            "HOME": str(data.parent),
        }
        return Launch(
            command=[str(minio_binary(ctx)), "server", str(data), "--quiet",
                     "--address", f"{s.s3_host}:{s.s3_port}",
                     "--console-address", f"{s.s3_host}:{s.s3_console_port}"],
            env=env,
        )

    def healthy(self, ctx: Context) -> bool:
        return http_json(f"{ctx.settings.s3_endpoint}/minio/health/live") is not None
