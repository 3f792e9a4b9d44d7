"""The lake bucket on MinIO speaks plain S3 to a standard client."""

from __future__ import annotations

import uuid

import pytest

from txlake.lake.storage import s3_client

pytestmark = pytest.mark.stack


def test_put_get_and_list_objects_in_the_lake_bucket(stack):
    client = s3_client(stack)
    prefix = f"tests/{uuid.uuid4().hex}/"
    bodies = {f"{prefix}a.txt": b"alpha", f"{prefix}nested/b.bin": bytes(range(256)) * 4096}
    for key, body in bodies.items():
        client.put_object(Bucket=stack.lake_bucket, Key=key, Body=body)

    for key, body in bodies.items():
        assert client.get_object(Bucket=stack.lake_bucket, Key=key)["Body"].read() == body
    listed = client.list_objects_v2(Bucket=stack.lake_bucket, Prefix=prefix)
    assert sorted(o["Key"] for o in listed["Contents"]) == sorted(bodies)

    client.delete_objects(Bucket=stack.lake_bucket,
                          Delete={"Objects": [{"Key": k} for k in bodies]})
    assert client.list_objects_v2(Bucket=stack.lake_bucket, Prefix=prefix)["KeyCount"] == 0
