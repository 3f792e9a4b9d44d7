"""Settings come from the environment and .env; bad ones fail in one line naming them."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from txlake.settings import GENERATED_SECRETS, ensure_env_file

REQUIRED = ["POSTGRES_HOST", "POSTGRES_PORT", "POSTGRES_DB", "POSTGRES_USER", "POSTGRES_PASSWORD",
            "KAFKA_BOOTSTRAP_SERVERS", "KAFKA_CONNECT_URL", "CDC_TOPIC_PREFIX", "S3_ENDPOINT",
            "S3_ACCESS_KEY", "S3_SECRET_KEY", "LAKE_BUCKET", "TRINO_HOST", "TRINO_PORT",
            "AIRFLOW_URL", "AIRFLOW_ADMIN_USER", "AIRFLOW_ADMIN_PASSWORD"]


def _config(tmp_path, **env: str) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if k not in REQUIRED}
    environment.update(env, TXLAKE_ENV_FILE=str(tmp_path / ".env"))
    return subprocess.run([sys.executable, "-m", "txlake", "config", "--json"],
                          capture_output=True, text=True, env=environment, timeout=60)


def test_config_json_works_before_anything_started_and_creates_env(tmp_path):
    result = _config(tmp_path)

    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout)
    assert set(REQUIRED) <= set(values)
    assert (tmp_path / ".env").stat().st_mode & 0o777 == 0o600
    for name in GENERATED_SECRETS:
        assert len(values[name]) >= 24
    assert _config(tmp_path).stdout == result.stdout  # secrets are generated once


def test_environment_overrides_env_file(tmp_path):
    result = _config(tmp_path, POSTGRES_PORT="6543", CDC_TOPIC_PREFIX="shop")

    values = json.loads(result.stdout)
    assert values["POSTGRES_PORT"] == "6543" and values["CDC_TOPIC_PREFIX"] == "shop"


def test_spark_shuffles_into_one_partition_per_core_unless_told(tmp_path):
    default = json.loads(_config(tmp_path).stdout)
    told = json.loads(_config(tmp_path, SPARK_SHUFFLE_PARTITIONS="16").stdout)

    assert default["SPARK_SHUFFLE_PARTITIONS"] == str(os.cpu_count())
    assert told["SPARK_SHUFFLE_PARTITIONS"] == "16"
    assert default["DELTA_SNAPSHOT_PARTITIONS"] == "1"


@pytest.mark.parametrize(("name", "value"), [
    ("S3_ENDPOINT", "127.0.0.1:9000"),
    ("KAFKA_CONNECT_URL", "connect:8083"),
    ("POSTGRES_PORT", "not-a-port"),
    ("KAFKA_BOOTSTRAP_SERVERS", "http://127.0.0.1:9092"),
    ("TRINO_HOST", "http://trino"),
    ("POSTGRES_PASSWORD", "short"),
    ("S3_PORT", "9100"),  # disagrees with S3_ENDPOINT's port
])
def test_a_wrong_setting_gives_one_line_naming_it(tmp_path, name, value):
    result = _config(tmp_path, **{name: value})

    assert result.returncode == 1
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and name in lines[0] and lines[0].startswith("txlake: error:")


def test_a_missing_setting_gives_one_line_naming_it(tmp_path):
    (tmp_path / ".env").write_text("S3_SECRET_KEY=abcdefghijkl\nDEBEZIUM_PASSWORD=abcdefghijk\n"
                                   "AIRFLOW_ADMIN_PASSWORD=abcdefghijkl\n")
    # An existing .env is not rewritten from the example: only blank secrets are filled.
    (tmp_path / ".env").write_text((tmp_path / ".env").read_text() + "POSTGRES_PASSWORD\n")

    result = _config(tmp_path)

    assert result.returncode == 1
    assert "POSTGRES_PASSWORD" in result.stderr and "missing" in result.stderr


def test_ensure_env_file_fills_blank_secrets_and_keeps_user_values(tmp_path):
    env = tmp_path / ".env"
    env.write_text("POSTGRES_PASSWORD=mine-and-long\nS3_SECRET_KEY=\nLAKE_BUCKET=mybucket\n")

    ensure_env_file(env)

    lines = dict(line.split("=", 1) for line in env.read_text().splitlines())
    assert lines["POSTGRES_PASSWORD"] == "mine-and-long"
    assert lines["LAKE_BUCKET"] == "mybucket"
    assert len(lines["S3_SECRET_KEY"]) >= 24


def test_plain_config_masks_secrets(tmp_path):
    environment = dict(os.environ, TXLAKE_ENV_FILE=str(tmp_path / ".env"))
    shown = subprocess.run([sys.executable, "-m", "txlake", "config"], capture_output=True,
                           text=True, env=environment, timeout=60).stdout
    secrets = json.loads(_config(tmp_path).stdout)

    for name in GENERATED_SECRETS:
        assert secrets[name] not in shown
        assert f"{name}=********" in shown
