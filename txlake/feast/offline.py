"""Feast offline store over the lake: every source is a Delta table read through its log.

Feast's DuckDB offline store does the point-in-time joins (ibis on DuckDB);
this class only decides how a source table is read, because the lake needs
two readers:

- delta-rs (deltalake) for tables it can read: the gold `features` table.
  Reading through the Delta log (not the Parquet files under the path) sees
  exactly the committed version, also after a MERGE or an overwrite.
- Trino for tables with deletion vectors (the silver tables): deltalake 1.6
  refuses them ("reader features {'deletionVectors'} not yet supported"), and
  DuckDB's delta extension cannot be installed here. Trino's Delta connector
  reads them, through the same log, as `lakehouse.project.<table>`.

The choice is made per table from its Delta protocol, so a definition names
only the table's location and keeps working if either reader changes.
"""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Any

import ibis
import pandas as pd
import pyarrow as pa
from feast.data_format import DeltaFormat
from feast.data_source import DataSource
from feast.infra.offline_stores.duckdb import DuckDBOfflineStore, _write_data_source
from feast.infra.offline_stores.file_source import FileSource
from feast.infra.offline_stores.ibis import (
    get_historical_features_ibis,
    pull_all_from_table_or_query_ibis,
    pull_latest_from_table_or_query_ibis,
)
from feast.repo_config import FeastConfigBaseModel, RepoConfig
from pydantic import StrictInt, StrictStr

TRINO_CATALOG = "lakehouse"
# Lake tables live at s3://<bucket>/<schema>/<table>; Trino names them <catalog>.<schema>.<table>.
_DV_FEATURE = "deletionVectors"


class LakeOfflineStoreConfig(FeastConfigBaseModel):
    """Filled from feature_store.yaml, which takes every value from txlake's settings."""

    type: StrictStr = "txlake.feast.offline.LakeOfflineStore"
    s3_endpoint: StrictStr
    s3_region: StrictStr = "us-east-1"
    s3_access_key: StrictStr
    s3_secret_key: StrictStr
    trino_host: StrictStr = "127.0.0.1"
    trino_port: StrictInt = 8080
    trino_user: StrictStr = "txlake"
    # Unused here; Feast's DuckDB helpers read them from the config.
    staging_location: StrictStr | None = None
    staging_location_endpoint_override: StrictStr | None = None


def storage_options(cfg: LakeOfflineStoreConfig) -> dict[str, str]:
    """delta-rs options for an S3-compatible endpoint such as MinIO."""
    return {
        "AWS_ENDPOINT_URL": cfg.s3_endpoint,
        "AWS_REGION": cfg.s3_region,
        "AWS_ACCESS_KEY_ID": cfg.s3_access_key,
        "AWS_SECRET_ACCESS_KEY": cfg.s3_secret_key,
        "AWS_ALLOW_HTTP": "true" if cfg.s3_endpoint.startswith("http://") else "false",
        # MinIO wants path-style URLs (bucket in the path, not the host name).
        "AWS_VIRTUAL_HOSTED_STYLE_REQUEST": "false",
    }


def read_delta(cfg: LakeOfflineStoreConfig, path: str) -> pa.Table:
    """The current version of the Delta table at `path`, through its log."""
    from deltalake import DeltaTable

    table = DeltaTable(_s3(path), storage_options=storage_options(cfg))
    if _DV_FEATURE in (table.protocol().reader_features or []):
        return read_through_trino(cfg, path)
    return table.to_pyarrow_table()


def read_through_trino(cfg: LakeOfflineStoreConfig, path: str) -> pa.Table:
    """SELECT * from the Trino table registered at `path` (s3://bucket/schema/table)."""
    import trino

    schema, table = _s3(path).rstrip("/").split("/")[-2:]
    conn = trino.dbapi.connect(host=cfg.trino_host, port=cfg.trino_port, user=cfg.trino_user,
                               http_scheme="http", source="txlake-feast")
    try:
        cursor = conn.cursor()
        cursor.execute(f'SELECT * FROM {TRINO_CATALOG}."{schema}"."{table}"')
        rows = cursor.fetchall()
        names = [d[0] for d in cursor.description]
    finally:
        conn.close()
    frame = pd.DataFrame.from_records(rows, columns=names)
    for column in frame.columns:  # Trino hands out tz-aware datetimes: keep them instants in UTC
        if frame[column].dtype == object and len(frame) and isinstance(frame[column].iloc[0], datetime):
            frame[column] = pd.to_datetime(frame[column], utc=True)
    table = pa.Table.from_pandas(frame, preserve_index=False)
    # DuckDB casts microsecond instants to naive timestamps, not nanosecond ones.
    return table.cast(pa.schema([
        f.with_type(pa.timestamp("us", tz="UTC")) if pa.types.is_timestamp(f.type) else f
        for f in table.schema]))


def _s3(path: str) -> str:
    # Spark calls the scheme s3a; delta-rs and Trino call it s3.
    return "s3://" + path.split("://", 1)[1] if path.startswith("s3a://") else path


_utc_lock = threading.Lock()
_utc_done = False


def _duckdb_in_utc() -> None:
    """Feast casts event times to naive timestamps inside DuckDB; in UTC that is the identity."""
    global _utc_done
    with _utc_lock:
        if not _utc_done:
            ibis.get_backend().raw_sql("SET TimeZone = 'UTC'")
            _utc_done = True


def _reader(config: RepoConfig):
    cfg = config.offline_store

    def read(data_source: DataSource, repo_path: str):
        if not isinstance(data_source, FileSource) or not isinstance(data_source.file_format, DeltaFormat):
            raise ValueError(f"source {data_source.name!r}: txlake's offline store reads Delta tables "
                             "only (FileSource with file_format=DeltaFormat())")
        _duckdb_in_utc()
        return ibis.memtable(read_delta(cfg, data_source.path))

    return read


def check_entity_df(entity_df: pd.DataFrame, feature_views, project, registry) -> None:
    """Reject entity rows that would give a wrong answer instead of an error.

    Feast's ibis path reports a missing join key as an ibis column error and
    reads naive timestamps as UTC. A notebook's naive timestamps are usually
    local time, which would shift every row across week boundaries silently;
    both become Feast's own errors with a message that says what to fix.
    """
    from feast.errors import EntityDFNotDateTime, FeastEntityDFMissingColumnsError, FeastError
    from feast.infra.offline_stores.offline_utils import (
        get_expected_join_keys,
        infer_event_timestamp_from_entity_df,
    )

    keys = get_expected_join_keys(project, feature_views, registry)
    missing = keys - set(entity_df.columns)
    if missing:
        raise FeastEntityDFMissingColumnsError(sorted(keys), sorted(missing))
    column = infer_event_timestamp_from_entity_df(dict(entity_df.dtypes))
    times = entity_df[column]
    if not pd.api.types.is_datetime64_any_dtype(times):
        raise EntityDFNotDateTime()
    if times.dt.tz is None:
        raise FeastError(
            f"entity_df column {column!r} holds naive timestamps: give time-zone aware "
            f"instants (e.g. pd.to_datetime(..., utc=True)); naive ones are ambiguous")


class LakeOfflineStore(DuckDBOfflineStore):
    """DuckDB's point-in-time logic over Delta tables read with `read_delta`."""

    @staticmethod
    def pull_latest_from_table_or_query(config: RepoConfig, data_source: DataSource,
                                        join_key_columns, feature_name_columns, timestamp_field,
                                        created_timestamp_column, start_date, end_date):
        return pull_latest_from_table_or_query_ibis(
            config=config, data_source=data_source, join_key_columns=join_key_columns,
            feature_name_columns=feature_name_columns, timestamp_field=timestamp_field,
            created_timestamp_column=created_timestamp_column, start_date=start_date,
            end_date=end_date, data_source_reader=_reader(config),
            data_source_writer=_write_data_source)

    @staticmethod
    def get_historical_features(config: RepoConfig, feature_views, feature_refs, entity_df, registry,
                                project, full_feature_names: bool = False,
                                filter_by_created_timestamp: bool = False):
        if isinstance(entity_df, pd.DataFrame):
            check_entity_df(entity_df, feature_views, project, registry)
        return get_historical_features_ibis(
            config=config, feature_views=feature_views, feature_refs=feature_refs,
            entity_df=entity_df, registry=registry, project=project,
            full_feature_names=full_feature_names, data_source_reader=_reader(config),
            data_source_writer=_write_data_source,
            filter_by_created_timestamp=filter_by_created_timestamp)

    @staticmethod
    def pull_all_from_table_or_query(config: RepoConfig, data_source: DataSource, join_key_columns,
                                     feature_name_columns, timestamp_field,
                                     created_timestamp_column=None, start_date=None, end_date=None):
        return pull_all_from_table_or_query_ibis(
            config=config, data_source=data_source, join_key_columns=join_key_columns,
            feature_name_columns=feature_name_columns, timestamp_field=timestamp_field,
            created_timestamp_column=created_timestamp_column, start_date=start_date,
            end_date=end_date, data_source_reader=_reader(config),
            data_source_writer=_write_data_source)

    @staticmethod
    def offline_write_batch(config: RepoConfig, feature_view, table: Any, progress) -> None:
        raise NotImplementedError("the lake's tables are written by txlake's jobs, not through Feast")
