"""Typed settings: the one place txlake reads configuration from.

Precedence: environment variables > the project's `.env` file > defaults.
The native stack, the compose file, Airflow tasks and the Feast repo all read
the same names, so a value changed in `.env` changes it everywhere.
"""

from __future__ import annotations

import os
import re
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from txlake.errors import TxlakeError

ENV_FILE_VAR = "TXLAKE_ENV_FILE"
# Blank values of these names in `.env` are filled with generated secrets.
GENERATED_SECRETS = (
    "POSTGRES_PASSWORD",
    "DEBEZIUM_PASSWORD",
    "S3_SECRET_KEY",
    "AIRFLOW_ADMIN_PASSWORD",
    "TRINO_SOURCE_PASSWORD",
)


class SettingsError(TxlakeError):
    """A missing or invalid setting; the message names it."""


def project_root() -> Path:
    """The checkout txlake runs from: where config/, scripts/ and .env live."""
    override = os.environ.get("TXLAKE_PROJECT_DIR")
    if override:
        return Path(override).resolve()
    here = Path(__file__).resolve().parent.parent
    if (here / "pyproject.toml").exists():
        return here
    return Path.cwd()


def env_file_path() -> Path:
    return Path(os.environ.get(ENV_FILE_VAR) or project_root() / ".env")


def _generated_secret() -> str:
    # URL-safe and free of characters that need quoting in .env, JDBC URLs or YAML.
    return secrets.token_urlsafe(24).replace("-", "x").replace("_", "y")


def ensure_env_file(path: Path | None = None) -> Path:
    """Create `.env` from `.env.example` on first use and fill blank secrets.

    Existing values are never changed, so a user's edits survive. A secret
    added to txlake after `.env` was made (absent from the file) is appended.
    """
    path = path or env_file_path()
    if not path.exists():
        example = project_root() / ".env.example"
        if not example.exists():
            raise SettingsError(f"no {path.name} and no .env.example next to it in {path.parent}")
        text = example.read_text()
    else:
        text = path.read_text()
    lines = []
    changed = not path.exists()
    present = set()
    for line in text.splitlines():
        name, sep, value = line.partition("=")
        present.add(name.strip())
        if sep and name.strip() in GENERATED_SECRETS and not value.strip():
            line = f"{name.strip()}={_generated_secret()}"
            changed = True
        lines.append(line)
    for name in GENERATED_SECRETS:
        if name not in present:
            lines.append(f"{name}={_generated_secret()}")
            changed = True
    if changed:
        path.write_text("\n".join(lines) + "\n")
        path.chmod(0o600)
    return path


_LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}
_HOSTPORT = re.compile(r"^[A-Za-z0-9._\-\[\]:]+:\d{1,5}$")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
    )

    postgres_host: str = "127.0.0.1"
    postgres_port: int = Field(5432, ge=1, le=65535)
    postgres_db: str = "txlake"
    postgres_user: str = "txlake"
    postgres_password: SecretStr
    debezium_user: str = "debezium"
    debezium_password: SecretStr

    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    kafka_port: int = Field(9092, ge=1, le=65535)
    kafka_controller_port: int = Field(9093, ge=1, le=65535)
    kafka_connect_url: str = "http://127.0.0.1:8083"
    kafka_connect_port: int = Field(8083, ge=1, le=65535)
    cdc_topic_prefix: str = "txlake"
    cdc_connector_name: str = "txlake-postgres"
    cdc_slot_name: str = "txlake_slot"
    cdc_publication: str = "txlake_pub"
    cdc_topic_partitions: int = Field(1, ge=1)
    cdc_topic_retention_ms: int = Field(604_800_000, ge=-1)

    s3_endpoint: str = "http://127.0.0.1:9000"
    s3_port: int = Field(9000, ge=1, le=65535)
    s3_console_port: int = Field(9001, ge=1, le=65535)
    s3_region: str = "us-east-1"
    s3_access_key: str = "txlake"
    s3_secret_key: SecretStr
    lake_bucket: str = "lakehouse"

    spark_master: str = "local[*]"
    spark_driver_memory: str = "2g"
    # About one per core by default: each partition is one more task in every
    # stage and one more file in every write, and on a laptop's few cores the
    # extra ones only queue (a weekly features run on 2 cores: 4 -> 2
    # partitions, with one snapshot partition below, ~5 s -> ~4 s).
    spark_shuffle_partitions: int = Field(default_factory=lambda: os.cpu_count() or 2, ge=1)
    # Tasks Delta rebuilds a table's state from its log in (Delta's default is
    # 50). A laptop lake's logs are small: one task, no shuffle to wait for.
    delta_snapshot_partitions: int = Field(1, ge=1)
    stream_trigger_seconds: float = Field(1.0, gt=0)
    # Kafka records one ingest micro-batch takes at most. A catch-up applies
    # its backlog in batches this big; the bigger, the more keys are inserted
    # and changed within one batch, which silver appends instead of merging.
    ingest_max_batch_records: int = Field(1_000_000, ge=1)
    # The warm Spark driver (a stack service) that `txlake features` hands its
    # runs to; empty: every run starts a Spark of its own.
    features_driver_url: str = "http://127.0.0.1:8092"
    features_driver_port: int = Field(8092, ge=1, le=65535)
    lake_lock_timeout_seconds: float = Field(600.0, ge=0)

    # Data-quality gates (`txlake quality`): the upper bound of a plausible
    # amount, and how long the checks may run in their Spark 3.5 runtime.
    quality_max_amount: float = Field(100_000.0, gt=0)
    quality_timeout_seconds: float = Field(3600.0, gt=0)

    trino_host: str = "127.0.0.1"
    trino_port: int = Field(8080, ge=1, le=65535)
    trino_user: str = "txlake"
    trino_source_user: str = "trino_reader"
    trino_source_password: SecretStr
    airflow_url: str = "http://127.0.0.1:8081"
    airflow_port: int = Field(8081, ge=1, le=65535)
    airflow_admin_user: str = "admin"
    airflow_admin_password: SecretStr
    # --- Airflow (txlake/stack/airflow.py, docker_all/dags/) ---
    airflow_db: str = "airflow"  # its metadata database, in the stack's PostgreSQL
    airflow_parallelism: int = Field(2, ge=1)  # task slots (LocalExecutor worker processes)
    daily_transactions: int = Field(100_000, ge=1)  # txlake_daily: inserts per day
    daily_customers: int = Field(10_000, ge=1)  # txlake_daily: customers u000001..uN that must exist

    txlake_home: Path = Path(".txlake")
    txlake_cache: Path = Path("~/.cache/txlake")

    # Feast (feature_store/): where online features are served from. sqlite is
    # a file under TXLAKE_HOME (fastest in-process lookups, one machine);
    # postgres is a database of its own on the stack's PostgreSQL, shared by
    # every process and host that reaches it.
    feast_online_store: Literal["sqlite", "postgres"] = "sqlite"
    feast_postgres_db: str = "feast"

    @field_validator("postgres_password", "debezium_password", "s3_secret_key",
                     "airflow_admin_password", "trino_source_password")
    @classmethod
    def _not_blank(cls, value: SecretStr) -> SecretStr:
        if len(value.get_secret_value()) < 8:
            raise ValueError("must be at least 8 characters (MinIO and good sense require it)")
        return value

    @field_validator("s3_endpoint", "kafka_connect_url", "airflow_url")
    @classmethod
    def _url_with_scheme(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"must be a URL with a scheme, like http://127.0.0.1:9000 (got {value!r})")
        return value.rstrip("/")

    @field_validator("features_driver_url")
    @classmethod
    def _url_or_empty(cls, value: str) -> str:
        return cls._url_with_scheme(value) if value.strip() else ""

    @field_validator("kafka_bootstrap_servers")
    @classmethod
    def _host_ports(cls, value: str) -> str:
        servers = [s.strip() for s in value.split(",")]
        if not servers or not all(_HOSTPORT.match(s) for s in servers):
            raise ValueError(f"must be host:port[,host:port] (got {value!r})")
        return ",".join(servers)

    @field_validator("trino_host", "postgres_host")
    @classmethod
    def _bare_host(cls, value: str) -> str:
        if "://" in value or "/" in value or not value:
            raise ValueError(f"must be a bare host name or address (got {value!r})")
        return value

    @field_validator("cdc_topic_prefix", "cdc_slot_name", "cdc_publication", "lake_bucket")
    @classmethod
    def _identifier(cls, value: str) -> str:
        if not re.fullmatch(r"[a-z0-9][a-z0-9_.\-]*", value):
            raise ValueError(f"use lower-case letters, digits, '_', '-', '.' (got {value!r})")
        return value

    @model_validator(mode="after")
    def _ports_agree(self) -> Settings:
        """Where a URL points at this machine, its port must be the one the stack
        listens on (the compose file publishes the *_PORT values)."""
        pairs = [
            ("KAFKA_BOOTSTRAP_SERVERS", self.kafka_bootstrap_servers.split(",")[0], "KAFKA_PORT",
             self.kafka_port),
            ("KAFKA_CONNECT_URL", self.kafka_connect_url, "KAFKA_CONNECT_PORT", self.kafka_connect_port),
            ("S3_ENDPOINT", self.s3_endpoint, "S3_PORT", self.s3_port),
            ("AIRFLOW_URL", self.airflow_url, "AIRFLOW_PORT", self.airflow_port),
            ("FEATURES_DRIVER_URL", self.features_driver_url, "FEATURES_DRIVER_PORT",
             self.features_driver_port),
        ]
        for url_name, url, port_name, port in pairs:
            if not url:
                continue
            parts = urlsplit(url if "://" in url else f"//{url}")
            if parts.hostname in _LOCAL_HOSTS and parts.port != port:
                raise ValueError(f"{url_name} uses port {parts.port} but {port_name} is {port}; "
                                 "make them agree")
        return self

    # -- derived values -----------------------------------------------------

    @property
    def home(self) -> Path:
        """State directory of the native stack (data, logs, pid files)."""
        path = self.txlake_home.expanduser()
        return path if path.is_absolute() else project_root() / path

    @property
    def cache(self) -> Path:
        return self.txlake_cache.expanduser()

    @property
    def s3_host(self) -> str:
        return urlsplit(self.s3_endpoint).hostname or "127.0.0.1"

    @property
    def features_driver_host(self) -> str:
        """Where the features driver listens: FEATURES_DRIVER_URL's host (loopback without one)."""
        return urlsplit(self.features_driver_url).hostname or "127.0.0.1"

    @property
    def trino_url(self) -> str:
        return f"http://{self.trino_host}:{self.trino_port}"

    def lake_path(self, table: str, scheme: str = "s3a") -> str:
        """Where a lake table lives; Spark's S3 connector calls the scheme s3a."""
        return f"{scheme}://{self.lake_bucket}/project/{table}"

    def cdc_topic(self, table: str) -> str:
        return f"{self.cdc_topic_prefix}.public.{table}"

    def postgres_dsn(self, user: str | None = None, password: str | None = None) -> str:
        """libpq keyword DSN; the owner's credentials unless told otherwise."""
        user = user or self.postgres_user
        password = password if password is not None else self.postgres_password.get_secret_value()
        return (
            f"host={self.postgres_host} port={self.postgres_port} dbname={self.postgres_db} "
            f"user={user} password={password} connect_timeout=5"
        )

    def as_env(self, *, reveal: bool = True) -> dict[str, str]:
        """The settings as environment variables, keyed by their names."""
        out: dict[str, str] = {}
        for name in type(self).model_fields:
            value: Any = getattr(self, name)
            if isinstance(value, SecretStr):
                value = value.get_secret_value() if reveal else "********"
            out[name.upper()] = str(value)
        return out


def _format_error(error: ValidationError) -> str:
    first = error.errors()[0]
    name = str(first["loc"][0]).upper() if first["loc"] else "settings"
    if not first["loc"]:  # a check across several settings names them itself
        return f"settings disagree: {first['msg'].removeprefix('Value error, ')}"
    if first["type"] == "missing":
        return f"setting {name} is missing: set it in the environment or in {env_file_path()}"
    message = first["msg"].removeprefix("Value error, ")
    return f"setting {name} is invalid: {message}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Load settings once per process, creating `.env` on first use."""
    env_file = ensure_env_file()
    try:
        return Settings(_env_file=env_file)  # type: ignore[call-arg]
    except ValidationError as error:
        raise SettingsError(_format_error(error)) from None
