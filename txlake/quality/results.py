"""The `quality_results` lake table: one row per check and run, appended.

Written with delta-rs (the `deltalake` package) from the txlake process: a
few rows do not need a JVM, and the table it creates (plain protocol, no
deletion vectors) is readable by Spark 4.1 / Delta 4.4, Spark 3.5 / Delta 3.3,
Trino and delta-rs alike. Writers hold the lake lock of the table, which is
what makes delta-rs's S3 commit (no atomic rename on S3) safe here.
"""

from __future__ import annotations

import pyarrow as pa

from txlake.settings import Settings

TABLE = "quality_results"
SCHEMA = pa.schema([
    ("run_id", pa.string()),
    ("run_time", pa.timestamp("us", tz="UTC")),
    ("layer", pa.string()),
    ("as_of_date", pa.date32()),
    ("table_name", pa.string()),
    ("check_name", pa.string()),
    ("severity", pa.string()),
    ("status", pa.string()),
    ("metric_value", pa.float64()),
    ("rows_checked", pa.int64()),
    ("message", pa.string()),
])


def storage_options(settings: Settings) -> dict[str, str]:
    return {
        "AWS_ENDPOINT_URL": settings.s3_endpoint,
        "AWS_ACCESS_KEY_ID": settings.s3_access_key,
        "AWS_SECRET_ACCESS_KEY": settings.s3_secret_key.get_secret_value(),
        "AWS_REGION": settings.s3_region,
        "AWS_ALLOW_HTTP": str(settings.s3_endpoint.startswith("http://")).lower(),
        "AWS_VIRTUAL_HOSTED_STYLE_REQUEST": "false",
        # Safe only because every writer holds the table's lake lock.
        "AWS_S3_ALLOW_UNSAFE_RENAME": "true",
    }


def append(settings: Settings, rows: list[dict], uri: str | None = None) -> bool:
    """Append `rows` (dicts keyed like SCHEMA). True if this created the table."""
    from deltalake import DeltaTable, write_deltalake

    uri = uri or settings.lake_path(TABLE, scheme="s3")
    options = storage_options(settings)
    created = not DeltaTable.is_deltatable(uri, storage_options=options)
    write_deltalake(uri, pa.Table.from_pylist(rows, schema=SCHEMA), mode="append",
                    storage_options=options)
    return created
