"""The lake's object storage: any S3-compatible endpoint from the settings."""

from __future__ import annotations

from urllib.parse import urlsplit

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from txlake.errors import TxlakeError
from txlake.settings import Settings


def s3_client(settings: Settings):
    return boto3.client(
        "s3",
        endpoint_url=settings.s3_endpoint,
        aws_access_key_id=settings.s3_access_key,
        aws_secret_access_key=settings.s3_secret_key.get_secret_value(),
        region_name=settings.s3_region,
        # MinIO and most self-hosted S3 servers want path-style addressing.
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 3},
                      connect_timeout=5, read_timeout=30),
    )


def ensure_bucket(settings: Settings) -> bool:
    """Create the lake bucket if it does not exist. True if it was created."""
    client = s3_client(settings)
    try:
        client.head_bucket(Bucket=settings.lake_bucket)
        return False
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") not in ("404", "NoSuchBucket"):
            raise TxlakeError(f"minio: bucket {settings.lake_bucket}: {error}") from None
    except BotoCoreError as error:
        raise TxlakeError(f"minio: cannot reach {settings.s3_endpoint}: {error}") from None
    client.create_bucket(Bucket=settings.lake_bucket)
    return True


def holds_objects(settings: Settings, url: str) -> bool:
    """Whether any object's key starts with `url` (`s3a://bucket/prefix/`)."""
    parts = urlsplit(url)
    listing = s3_client(settings).list_objects_v2(Bucket=parts.netloc, Prefix=parts.path.lstrip("/"),
                                                  MaxKeys=1)
    return listing.get("KeyCount", 0) > 0
