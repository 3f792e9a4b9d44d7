"""Feast online store for txlake: SQLite or the stack's PostgreSQL, chosen by a setting.

Feast picks an online store by its `type` in feature_store.yaml and rejects
fields that type does not know, so one file cannot hold both configurations.
This store holds both and hands every call to Feast's own SQLite or
PostgreSQL store, whichever FEAST_ONLINE_STORE names; the tables, keys and
values stay Feast's, so `get_online_features` and the `feast` CLI behave as
with the stock stores.

It adds one write path, `write_arrow`: a whole Arrow batch becomes rows in one
pass per column and one bulk upsert (SQLite `executemany`, PostgreSQL `COPY`
into a temporary table), instead of a protobuf message per entity handed to a
per-value INSERT. The upsert keeps the newer event time, so materializing an
older window after a newer one (a backfill) never overwrites newer features.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Literal

import pyarrow as pa
from feast.feature_view import FeatureView
from feast.infra.online_stores.online_store import OnlineStore
from feast.infra.online_stores.postgres_online_store.postgres import (
    PostgreSQLOnlineStore,
    PostgreSQLOnlineStoreConfig,
)
from feast.infra.online_stores.sqlite import SqliteOnlineStore, SqliteOnlineStoreConfig, _table_id
from feast.protos.feast.types.Value_pb2 import Value as ValueProto
from feast.protos.feast.types.Value_pb2 import ValueType as ProtoValueType
from feast.repo_config import FeastConfigBaseModel, RepoConfig
from feast.types import Bool, Float32, Float64, Int32, Int64, String
from pydantic import StrictInt, StrictStr, field_validator

# Feast type -> (ValueProto field, Arrow type the column is cast to first)
_PROTO_FIELD = {Int64: ("int64_val", pa.int64()), Int32: ("int32_val", pa.int32()),
                Float64: ("double_val", pa.float64()), Float32: ("float_val", pa.float32()),
                String: ("string_val", pa.string()), Bool: ("bool_val", pa.bool_())}


class LakeOnlineStoreConfig(FeastConfigBaseModel):
    type: StrictStr = "txlake.feast.online.LakeOnlineStore"
    backend: Literal["sqlite", "postgres"] = "sqlite"
    sqlite_path: StrictStr = "online.db"
    postgres_host: StrictStr = "127.0.0.1"
    postgres_port: StrictInt = 5432
    postgres_database: StrictStr = "feast"
    postgres_user: StrictStr = "txlake"
    postgres_password: StrictStr = ""

    @field_validator("backend", mode="before")
    @classmethod
    def _unset_means_default(cls, value: Any) -> Any:
        # A `.env` from before this setting existed leaves "${FEAST_ONLINE_STORE}" unexpanded.
        return "sqlite" if isinstance(value, str) and value.startswith("${") else value

    def inner(self) -> SqliteOnlineStoreConfig | PostgreSQLOnlineStoreConfig:
        if self.backend == "sqlite":
            return SqliteOnlineStoreConfig(path=self.sqlite_path)
        # sslmode: the stack's PostgreSQL listens on loopback without TLS.
        return PostgreSQLOnlineStoreConfig(
            host=self.postgres_host, port=self.postgres_port, database=self.postgres_database,
            user=self.postgres_user, password=self.postgres_password, sslmode="disable")


class LakeOnlineStore(OnlineStore):
    """Feast's SQLite or PostgreSQL online store, plus a bulk Arrow write path."""

    def __init__(self) -> None:
        super().__init__()
        self._store: SqliteOnlineStore | PostgreSQLOnlineStore | None = None
        self._config: RepoConfig | None = None
        self._outer: RepoConfig | None = None
        self._pg_reader = None  # a connection of its own for reads (autocommit)

    def _delegate(self, config: RepoConfig) -> tuple[Any, RepoConfig]:
        """The stock store and a copy of `config` whose online_store is its own config."""
        if self._outer is not config:
            inner_cfg = config.online_store.inner()
            inner = config.model_copy()
            inner.online_config = inner_cfg
            inner._online_store = inner_cfg
            if self._store is None or self._config is None or \
                    self._config.online_store.type != inner_cfg.type:
                self._store = SqliteOnlineStore() if inner_cfg.type == "sqlite" else PostgreSQLOnlineStore()
            self._config, self._outer = inner, config
        assert self._store is not None and self._config is not None
        return self._store, self._config

    # -- Feast's OnlineStore interface: handed to the stock store ------------

    def online_write_batch(self, config, table, data, progress):
        store, inner = self._delegate(config)
        store.online_write_batch(inner, table, data, progress)

    def online_read(self, config, table, entity_keys, requested_features=None):
        """Feast's answer, (event time, {feature: Value}) per key in order or
        (None, None), read with less work per value than Feast's stores do: a
        row holds one feature, and they convert the event time and copy bytes
        for every one of them; here that happens once per entity."""
        store, inner = self._delegate(config)
        keys = [_serialize(key, inner.entity_key_serialization_version) for key in entity_keys]
        if not keys:
            return []
        table_name = _table_id(inner.project, table,
                               inner.registry.enable_online_feature_view_versioning)
        if inner.online_store.type == "sqlite":
            return _sqlite_read(store._get_conn(inner), table_name, keys)
        if self._pg_reader is None or self._pg_reader.closed:
            self._pg_reader = _pg_connect(inner.online_store)
        return _postgres_read(self._pg_reader, table_name, keys)

    def update(self, config, tables_to_delete, tables_to_keep, entities_to_delete, entities_to_keep,
               partial):
        store, inner = self._delegate(config)
        if inner.online_store.type == "sqlite":
            from pathlib import Path

            Path(store._get_db_path(inner)).parent.mkdir(parents=True, exist_ok=True)
        store.update(inner, tables_to_delete, tables_to_keep, entities_to_delete, entities_to_keep,
                     partial)
        if inner.online_store.type == "postgres" and tables_to_keep:
            _set_fillfactor(inner, tables_to_keep)

    def teardown(self, config, tables, entities):
        store, inner = self._delegate(config)
        store.teardown(inner, tables, entities)

    # -- the bulk path ----------------------------------------------------------

    def write_arrow(self, config: RepoConfig, view: FeatureView, table: pa.Table,
                    join_key: str, timestamp_field: str, created_field: str | None,
                    progress: Callable[[int], Any] | None = None) -> int:
        """Upsert one feature row per entity of `table` in one transaction;
        returns the rows written and reports each chunk's rows to `progress`."""
        store, inner = self._delegate(config)
        if table.num_rows == 0:
            return 0
        # In key order the writes walk the primary-key B-tree forward instead of
        # at random (same-length ids sort as their serialized keys do).
        table = table.sort_by(join_key)
        table_name = _table_id(inner.project, view,
                               inner.registry.enable_online_feature_view_versioning)
        features = sorted(view.features, key=lambda f: f.name)  # the key's second column
        chunks = (_Chunk.of(part, join_key, timestamp_field, created_field, features)
                  for part in table.to_batches(max_chunksize=CHUNK_ROWS))
        if inner.online_store.type == "sqlite":
            _sqlite_upsert(store._get_conn(inner), table_name, chunks, progress)
        else:
            _postgres_upsert(inner.online_store, table_name, chunks, progress)
        return table.num_rows


# Entities per write: bounds the rows held in memory at once.
CHUNK_ROWS = 100_000


@dataclass
class _Chunk:
    """One batch of entities, encoded once, in the row shape each store writes."""

    join_key: str
    ids: list[str]
    event_ts: pa.Array
    created_ts: pa.Array | None
    names: list[str]
    columns: list[tuple[pa.Array, Any]]  # (values, Feast dtype) per feature, in `names` order

    @classmethod
    def of(cls, batch: pa.RecordBatch, join_key: str, timestamp_field: str,
           created_field: str | None, features: list) -> _Chunk:
        return cls(join_key, batch.column(join_key).to_pylist(), batch.column(timestamp_field),
                   batch.column(created_field) if created_field else None,
                   [f.name for f in features], [(batch.column(f.name), f.dtype) for f in features])

    def __len__(self) -> int:
        return len(self.ids)

    def keys(self) -> list[bytes]:
        return [entity_key_bytes(self.join_key, i) for i in self.ids]

    def sqlite_rows(self) -> list[tuple]:
        """(entity_key, feature_name, value, value_text, event_ts, created_ts), key-major;
        Feast's SQLite store keeps instants as Unix seconds."""
        event_ts = _epoch_seconds(self.event_ts)
        created_ts = _epoch_seconds(self.created_ts) if self.created_ts is not None \
            else [None] * len(self)
        cells = [_encode(column, dtype, _plain_cell) for column, dtype in self.columns]
        return [(key, name, value, text, event, created)
                for key, event, created, values in zip(self.keys(), event_ts, created_ts,
                                                        zip(*cells, strict=True), strict=True)
                for name, (value, text) in zip(self.names, values, strict=True)]

    def copy_text(self) -> str:
        """The same rows as PostgreSQL COPY text lines (entity_key, feature_name,
        value, value_text, event_ts, created_ts): each distinct key, value and
        instant is formatted once, a line is four string joins."""
        event_ts = _utc_text(self.event_ts)
        created_ts = _utc_text(self.created_ts) if self.created_ts is not None \
            else [None] * len(self)
        keys = [f"\\\\x{key.hex()}\t" for key in self.keys()]
        stamps = [f"\t{_copy_field(event)}\t{_copy_field(created)}\n"
                  for event, created in zip(event_ts, created_ts, strict=True)]
        names = [f"{_copy_field(name)}\t" for name in self.names]
        cells = [_encode(column, dtype, _copy_cell) for column, dtype in self.columns]
        return "".join([key + name + cell + stamp
                        for key, stamp, values in zip(keys, stamps, zip(*cells, strict=True), strict=True)
                        for name, cell in zip(names, values, strict=True)])


def entity_key_bytes(join_key: str, value: str) -> bytes:
    """Feast's entity key serialization (version 3) for one string join key, as
    `serialize_entity_key` writes it: key count; per key its type, length and
    name; per value its type, length and UTF-8 bytes (tests compare the two)."""
    data = value.encode()
    return _key_prefix(join_key) + struct.pack("<II", ProtoValueType.STRING, len(data)) + data


def _serialize(key, version: int) -> bytes:
    """`serialize_entity_key`, without its generic walk for the common key: one string."""
    if len(key.join_keys) == 1 and key.entity_values[0].WhichOneof("val") == "string_val":
        return entity_key_bytes(key.join_keys[0], key.entity_values[0].string_val)
    from feast.infra.key_encoding_utils import serialize_entity_key

    return serialize_entity_key(key, entity_key_serialization_version=version)


@lru_cache(maxsize=16)
def _key_prefix(join_key: str) -> bytes:
    name = join_key.encode()
    return struct.pack("<III", 1, ProtoValueType.STRING, len(name)) + name


def _encode(column: pa.Array | pa.ChunkedArray, dtype, cell: Callable[[bytes, str | None], Any]
            ) -> list:
    """One cell per value: `cell(serialized ValueProto, Feast's value_text)`
    (null -> an empty Value and no text).

    Counts and categories repeat a lot, so each distinct value is serialized
    and formatted once.
    """
    field, arrow_type = _PROTO_FIELD[dtype]
    cache: dict[Any, Any] = {None: cell(b"", None)}
    proto = ValueProto()
    out = []
    for value in column.cast(arrow_type).to_pylist():
        hit = cache.get(value)
        if hit is None:
            setattr(proto, field, value)
            hit = cell(proto.SerializeToString(), value if field == "string_val" else str(value))
            if len(cache) < 100_000:
                cache[value] = hit
        out.append(hit)
    return out


def _plain_cell(value: bytes, text: str | None) -> tuple[bytes, str | None]:
    return value, text


def _copy_cell(value: bytes, text: str | None) -> str:
    return f"\\\\x{value.hex()}\t{_copy_field(text)}"


def _copy_field(text: str | None) -> str:
    """A value in COPY's text format: backslash escapes, \\N for null."""
    if text is None:
        return "\\N"
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n") \
        .replace("\r", "\\r")


def _epoch_seconds(column: pa.ChunkedArray) -> list[int | None]:
    import pyarrow.compute as pc

    micros = column.cast(pa.timestamp("us", tz="UTC")).cast(pa.int64())
    return pc.floor(pc.divide(micros.cast(pa.float64()), 1_000_000)).cast(pa.int64()).to_pylist()


def _utc_text(column: pa.ChunkedArray) -> list[str | None]:
    """Instants as 'YYYY-MM-DD HH:MM:SS.ffffff' in UTC: what SQLite's timestamp
    converter reads back and what PostgreSQL parses in a UTC session."""
    import pyarrow.compute as pc

    if pa.types.is_timestamp(column.type) and column.type.tz is None:
        column = pc.assume_timezone(column, "UTC")
    return pc.strftime(column.cast(pa.timestamp("us", tz="UTC")), "%Y-%m-%d %H:%M:%S").to_pylist()


def _quote(table_name: str) -> str:
    return '"' + table_name.replace('"', '""') + '"'


def _sqlite_read(conn, table_name: str, keys: list[bytes]) -> list[tuple]:
    # `+event_ts` is an expression, so it has no declared type and sqlite3
    # returns the stored Unix seconds as they are instead of calling the
    # registered timestamp converter on every row.
    rows = conn.execute(
        f"SELECT entity_key, feature_name, value, +event_ts FROM {_quote(table_name)} "
        f"WHERE entity_key IN ({','.join('?' * len(keys))})", keys).fetchall()
    return _by_key(rows, keys, lambda stamp: datetime.fromtimestamp(int(stamp), tz=UTC))


def _postgres_read(conn, table_name: str, keys: list[bytes]) -> list[tuple]:
    from psycopg import sql

    # One row per entity: its features as two arrays and its newest event time,
    # so the driver converts one instant per entity, not one per feature.
    query = sql.SQL("SELECT entity_key, array_agg(feature_name), array_agg(value), max(event_ts) "
                    "FROM {} WHERE entity_key = ANY(%b) GROUP BY entity_key").format(
                        sql.Identifier(table_name))
    # Binary: keys go out and values come back without text escaping; prepared
    # once per connection, as a lookup would otherwise be mostly planning.
    with conn.cursor(binary=True) as cursor:
        rows = cursor.execute(query, (keys,), prepare=True).fetchall()
    parse = ValueProto.FromString
    found = {key: (stamp, {name: parse(value) for name, value in zip(names, values, strict=True)})
             for key, names, values, stamp in rows}
    return [found.get(key, (None, None)) for key in keys]


def _by_key(rows, keys: list[bytes], instant) -> list[tuple]:
    """(entity_key, feature_name, value, event_ts) rows -> Feast's read result."""
    parse = ValueProto.FromString
    found: dict[bytes, list] = {}
    for key, name, value, stamp in rows:
        entry = found.get(key)
        if entry is None:
            entry = found[key] = [stamp, {}]
        elif stamp > entry[0]:
            entry[0] = stamp
        entry[1][name] = parse(value)
    out: list[tuple] = []
    for key in keys:
        entry = found.get(key)
        out.append((instant(entry[0]), entry[1]) if entry else (None, None))
    return out


def _set_fillfactor(inner: RepoConfig, tables) -> None:
    """Leave room for HOT updates in pages written from now on (Feast creates the tables)."""
    from psycopg import sql

    with _pg_connect(inner.online_store) as conn:
        for view in tables:
            name = _table_id(inner.project, view, inner.registry.enable_online_feature_view_versioning)
            conn.execute(sql.SQL("ALTER TABLE {} SET (fillfactor = {})").format(
                sql.Identifier(name), sql.Literal(PG_FILLFACTOR)))


def _pg_connect(cfg: PostgreSQLOnlineStoreConfig):
    import psycopg

    return psycopg.connect(host=cfg.host, port=cfg.port, dbname=cfg.database, user=cfg.user,
                           password=cfg.password, sslmode=cfg.sslmode, autocommit=True)


def _sqlite_upsert(conn, table_name: str, chunks: Iterable[_Chunk],
                   progress: Callable[[int], Any] | None) -> None:
    quoted = _quote(table_name)
    with conn:
        for chunk in chunks:
            conn.executemany(
                f"INSERT INTO {quoted} (entity_key, feature_name, value, value_text, event_ts, "
                "created_ts) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(entity_key, feature_name) "
                "DO UPDATE SET value = excluded.value, value_text = excluded.value_text, "
                "event_ts = excluded.event_ts, created_ts = excluded.created_ts "
                "WHERE excluded.event_ts >= event_ts",
                chunk.sqlite_rows())
            if progress:
                progress(len(chunk))


# Free space left in each page of a PostgreSQL online table. A materialization
# rewrites every row of an entity with the same key; with room on the page the
# new version stays there and the indexes are not touched (a HOT update),
# which makes re-materializing a week about twice as fast.
PG_FILLFACTOR = 50

_COPY_COLUMNS = "(entity_key, feature_name, value, value_text, event_ts, created_ts)"


def _postgres_upsert(cfg: PostgreSQLOnlineStoreConfig, table_name: str, chunks: Iterable[_Chunk],
                     progress: Callable[[int], Any] | None) -> None:
    """COPY straight into an empty table; otherwise COPY into a temporary table
    and upsert from it, keeping newer event times and skipping identical rows
    (materializing the same window twice writes nothing)."""
    from psycopg import sql

    target = sql.Identifier(table_name)
    with _pg_connect(cfg) as conn, conn.transaction():
        conn.execute("SET TIME ZONE 'UTC'")  # naive UTC event times stay UTC in timestamptz
        # One writer per table at a time, so the table stays empty between the check and the COPY.
        conn.execute(sql.SQL("LOCK TABLE {} IN SHARE ROW EXCLUSIVE MODE").format(target))
        empty = conn.execute(sql.SQL("SELECT NOT EXISTS (SELECT FROM {})").format(target)) \
            .fetchone()[0]
        into = target if empty else sql.Identifier("incoming")
        if not empty:
            conn.execute(sql.SQL("CREATE TEMP TABLE incoming (LIKE {} INCLUDING DEFAULTS) "
                                 "ON COMMIT DROP").format(target))
        copy_sql = sql.SQL("COPY {} " + _COPY_COLUMNS + " FROM STDIN").format(into)
        for chunk in chunks:
            text = chunk.copy_text()
            with conn.cursor().copy(copy_sql) as copy:
                for start in range(0, len(text), 1 << 20):
                    copy.write(text[start:start + (1 << 20)])
            if progress:
                progress(len(chunk))
        if not empty:
            conn.execute(sql.SQL(
                "INSERT INTO {t} " + _COPY_COLUMNS + " SELECT entity_key, feature_name, value, "
                "value_text, event_ts, created_ts FROM incoming ORDER BY entity_key, feature_name "
                "ON CONFLICT (entity_key, feature_name) DO UPDATE SET value = EXCLUDED.value, "
                "value_text = EXCLUDED.value_text, event_ts = EXCLUDED.event_ts, "
                "created_ts = EXCLUDED.created_ts WHERE {t}.event_ts <= EXCLUDED.event_ts AND "
                "({t}.value, {t}.value_text, {t}.event_ts, {t}.created_ts) IS DISTINCT FROM "
                "(EXCLUDED.value, EXCLUDED.value_text, EXCLUDED.event_ts, EXCLUDED.created_ts)"
            ).format(t=target))
