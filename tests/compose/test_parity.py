"""Compose parity: docker_all/docker-compose.yaml and the native stack run the same services.

The native side is the service table, `txlake.stack.manager.SERVICES`: each
service's name, the ports it listens on (`ports(settings)`), the project config
files it reads (`config_files`) and the credential settings its module reads.
The compose side is the real compose CLI's resolved config (`config --format
json`) plus the raw file (which settings each service interpolates).

Every difference fails the test unless DELIBERATE lists it with its reason, and
a DELIBERATE entry that no longer matches a real difference fails too, so the
list stays the truth. New services (Airflow, ...) are covered without editing
this file: they only have to exist on both sides with the same facts.

No stack is needed: nothing here starts or contacts a service.
"""

from __future__ import annotations

import ast
import inspect
import json
import os
import re
import secrets
import subprocess
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest
import yaml

from txlake.settings import GENERATED_SECRETS, Settings
from txlake.stack.manager import SERVICES
from txlake.stack.service import Service

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker_all" / "docker-compose.yaml"
ENV_EXAMPLE = ROOT / ".env.example"
# Project files that configure services (both stacks read them from here).
CONFIG_DIRS = ("config", "trino")
# Config files that no single service reads: `stack init` (natively run by
# `stack up`, in compose by the init container) registers the connector.
USED_BY_INIT = {"config/debezium/postgres-connector.json"}
# Which settings are credentials: logins and their secrets.
CREDENTIAL = re.compile(r"_(USER|PASSWORD|ACCESS_KEY|SECRET_KEY)$")
INTERPOLATION = re.compile(r"\$\{([A-Z][A-Z0-9_]*)")
CONFIG_REFERENCE = re.compile(r"\$\{(?:ENV:)?([A-Z][A-Z0-9_]*)\}")


@dataclass(frozen=True)
class Deliberate:
    service: str
    kind: str  # "service" | "port" | "credential" | "config"
    items: frozenset[str]  # setting names for ports and credentials, paths for config files
    reason: str


def deliberate(service: str, kind: str, *items: str, reason: str) -> Deliberate:
    return Deliberate(service, kind, frozenset(items or (service,)), reason)


DELIBERATE = [
    deliberate("init", "service", reason=(
        "a one-shot container running `txlake stack init`; natively `stack up` runs the same "
        "code (txlake.stack.bootstrap.initialize) once the services are healthy")),
    deliberate("kafka", "port", "KAFKA_CONTROLLER_PORT", reason=(
        "the KRaft controller listener stays inside the container network (kafka:9093); "
        "natively there is no private network, so it listens on loopback")),
    deliberate("kafka", "config", "config/kafka/server.properties", reason=(
        "the apache/kafka image takes the same broker properties as KAFKA_* variables")),
    deliberate("kafka", "config", "config/kafka/log4j2.properties", reason=(
        "the image keeps its own logging configuration")),
    deliberate("connect", "config", "config/kafka/connect-distributed.properties", reason=(
        "the Debezium image takes the worker properties as variables; test_compose.py "
        "compares them property by property")),
    deliberate("connect", "config", "config/kafka/log4j2.properties", reason=(
        "the image keeps its own logging configuration")),
    deliberate("postgres", "config", "docker_all/postgres/pg_hba.conf", reason=(
        "compose-only: Debezium opens its replication connection from another container; "
        "natively initdb's loopback rules suffice")),
    deliberate("postgres", "credential", "DEBEZIUM_USER", "DEBEZIUM_PASSWORD",
               "TRINO_SOURCE_USER", "TRINO_SOURCE_PASSWORD", reason=(
        "natively the local superuser creates these roles as PostgreSQL starts; in compose the "
        "image's POSTGRES_USER is a superuser and init creates them (txlake.source.schema)")),
    deliberate("trino", "config", "trino/etc/node.properties", reason=(
        "the image keeps its own node.properties (node id, data directory)")),
]


# --- the native side -------------------------------------------------------------


def _expand(paths: list[Path]) -> set[str]:
    """Project-relative file names; a directory stands for every file in it."""
    out = set()
    for path in paths:
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        out |= {f.resolve().relative_to(ROOT).as_posix() for f in files}
    return out


@cache
def _setting_names() -> frozenset[str]:
    return frozenset(name.upper() for name in Settings.model_fields)


def settings_read_by(service: Service) -> set[str]:
    """Settings the service's module reads (`settings.s3_secret_key`, ...) and
    those its config files refer to (`${NAME}`, Trino's `${ENV:NAME}`).

    Per module, not per class: services defined in one module (Airflow's
    processes) share their helpers, and so their settings."""
    tree = ast.parse(inspect.getsource(inspect.getmodule(type(service))))
    names = {node.attr.upper() for node in ast.walk(tree) if isinstance(node, ast.Attribute)}
    for path in _expand([ROOT / p for p in service.config_files]):
        names |= set(CONFIG_REFERENCE.findall((ROOT / path).read_text()))
    return names & _setting_names()


def native_facts(settings: Settings) -> dict[str, dict[str, set[str]]]:
    return {
        service.name: {
            "port": {str(port) for _, port in service.ports(settings)},
            "credential": {n for n in settings_read_by(service) if CREDENTIAL.search(n)},
            "config": _expand([ROOT / p for p in service.config_files]),
        }
        for service in SERVICES
    }


# --- the compose side ------------------------------------------------------------


def _compose_bin() -> Path:
    cache_dir = Path(os.environ.get("TXLAKE_CACHE") or "~/.cache/txlake").expanduser()
    path = cache_dir / "bin" / "docker-compose"
    if not os.access(path, os.X_OK):
        pytest.fail(f"docker-compose not found at {path}: run scripts/install_compose_tools.sh",
                    pytrace=False)
    return path


def compose_config(env_file: Path, compose_file: Path = COMPOSE_FILE) -> dict:
    # Relative paths in the file are relative to docker_all/, wherever the file is.
    result = subprocess.run(
        [str(_compose_bin()), "-f", str(compose_file), "--project-directory", str(COMPOSE_FILE.parent),
         "--env-file", str(env_file), "config", "--format", "json"],
        capture_output=True, text=True, timeout=60, cwd=ROOT,
        # Only the env file may feed interpolation, nothing from this shell.
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/tmp")},
    )
    assert result.returncode == 0, f"docker-compose config failed:\n{result.stderr}"
    return json.loads(result.stdout)


def _strings(value: object) -> list[str]:
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (str(k), *_strings(v))]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return [str(value)]


def compose_facts(env_file: Path, compose_file: Path = COMPOSE_FILE) -> dict[str, dict[str, set[str]]]:
    resolved = compose_config(env_file, compose_file)
    # The raw file says which settings a service takes (`${NAME}`, or an
    # environment key of the same name); anchors are resolved by the YAML parser.
    raw = yaml.safe_load(compose_file.read_text())["services"]
    facts = {}
    for name, service in resolved["services"].items():
        text = _strings(raw[name])
        used = {n for s in text for n in INTERPOLATION.findall(s)}
        used |= set(raw[name].get("environment") or {})
        mounts = [Path(m["source"]) for m in service.get("volumes", []) if m.get("type") == "bind"]
        facts[name] = {
            "port": {str(p["published"]) for p in service.get("ports", [])},
            "credential": {n for n in used & _setting_names() if CREDENTIAL.search(n)},
            "config": _expand([m for m in mounts if m.resolve().is_relative_to(ROOT)]),
        }
    return facts


# --- one configuration for both, with every port distinct -----------------------


def distinct_ports_env(path: Path) -> tuple[Settings, dict[str, str]]:
    """.env.example with every port moved to a number of its own, so a port that
    a stack hard-codes, or takes from the wrong setting, shows up by name.

    Returns the settings and, for each port number, the setting it came from.
    """
    lines = ENV_EXAMPLE.read_text().splitlines()
    pairs = [line.split("=", 1) for line in lines if "=" in line and not line.startswith("#")]
    in_urls = {int(p) for _, v in pairs for p in re.findall(r":(\d{2,5})\b", v)}
    defaults = sorted({int(v) for n, v in pairs if n.endswith("_PORT")} | in_urls)
    moved = {old: 20001 + i for i, old in enumerate(defaults)}
    out, names = [], {}
    for line in lines:
        name, sep, value = line.partition("=")
        if sep and not name.startswith("#"):
            if name.endswith("_PORT"):
                value = str(moved[int(value)])
                names[value] = name
            else:
                value = re.sub(r":(\d{2,5})\b", lambda m: f":{moved[int(m.group(1))]}", value)
                for port in re.findall(r":(\d{5})\b", value):
                    names.setdefault(port, name)  # a URL names a port no *_PORT setting holds
            if name in GENERATED_SECRETS and not value:
                value = f"parity{secrets.token_hex(8)}"
            line = f"{name}={value}"
        out.append(line)
    path.write_text("\n".join(out) + "\n")
    return Settings(_env_file=path), names  # type: ignore[call-arg]


Facts = dict[str, dict[str, set[str]]]
Key = tuple[str, str]  # (service, kind)


def differences(native: Facts, compose: Facts, port_names: dict[str, str]) -> dict[Key, dict[str, str]]:
    """What differs, per (service, kind): item -> which side has it."""
    out: dict[Key, dict[str, str]] = {}
    for name in set(native) ^ set(compose):
        out[(name, "service")] = {name: "native only" if name in native else "compose only"}
    for name in set(native) & set(compose):
        for kind in ("port", "credential", "config"):
            ours, theirs = native[name][kind], compose[name][kind]
            label = (lambda item: port_names.get(item, item)) if kind == "port" else (lambda item: item)
            diff = {label(i): "native only" for i in ours - theirs}
            diff |= {label(i): "compose only" for i in theirs - ours}
            if diff:
                out[(name, kind)] = diff
    return out


def unexplained(diffs: dict[Key, dict[str, str]]) -> dict[Key, dict[str, str]]:
    out = {}
    for key, items in diffs.items():
        allowed = {i for d in DELIBERATE if (d.service, d.kind) == key for i in d.items}
        rest = {item: side for item, side in items.items() if item not in allowed}
        if rest:
            out[key] = rest
    return out


@pytest.fixture(scope="module")
def env_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("parity") / "parity.env"


@pytest.fixture(scope="module")
def diffs(env_file: Path) -> dict[Key, dict[str, str]]:
    settings, port_names = distinct_ports_env(env_file)
    return differences(native_facts(settings), compose_facts(env_file), port_names)


# --- the parity checks -------------------------------------------------------------


def test_both_stacks_run_the_same_services(diffs: dict[Key, dict[str, str]]) -> None:
    odd = {key[0]: side for key, items in unexplained(diffs).items() if key[1] == "service"
           for side in items.values()}
    assert not odd, f"services in one stack only: {odd}; add them to the other or to DELIBERATE"


@pytest.mark.parametrize("service", [s.name for s in SERVICES])
@pytest.mark.parametrize("kind", ["port", "credential", "config"])
def test_service_is_the_same_in_both_stacks(
    diffs: dict[Key, dict[str, str]], service: str, kind: str
) -> None:
    odd = unexplained(diffs).get((service, kind))
    assert not odd, f"{service}: {kind} differs between the stacks: {odd}"


def test_every_deliberate_difference_is_still_real(diffs: dict[Key, dict[str, str]]) -> None:
    """A difference that was fixed must leave DELIBERATE too, or the list stops meaning anything."""
    for entry in DELIBERATE:
        actual = set(diffs.get((entry.service, entry.kind), {}))
        assert entry.items <= actual, (
            f"DELIBERATE lists {sorted(entry.items - actual)} for {entry.service} ({entry.kind}), "
            "but the stacks no longer differ there: remove the entry")


def test_every_project_config_file_is_claimed() -> None:
    """The native table names every file under config/ and trino/, so none escapes the comparison."""
    declared = {p for s in SERVICES for p in s.config_files}
    for path in declared:
        assert (ROOT / path).exists(), f"config_files names {path}, which does not exist"
    claimed = _expand([ROOT / p for p in declared]) | USED_BY_INIT
    present = _expand([ROOT / d for d in CONFIG_DIRS])
    assert present <= claimed, f"no native service declares {sorted(present - claimed)} in config_files"


# --- the comparison itself catches a drifted compose file -------------------------


def _drifted(tmp_path: Path, old: str, new: str) -> Path:
    text = COMPOSE_FILE.read_text()
    assert text.count(old) == 1, f"the compose file no longer contains {old!r}"
    path = tmp_path / "drifted.yaml"
    path.write_text(text.replace(old, new))
    return path


@pytest.mark.parametrize(("old", "new", "expected"), [
    # A hard-coded port instead of the setting.
    ("127.0.0.1:${S3_CONSOLE_PORT:?set S3_CONSOLE_PORT in .env (see .env.example)}:9001",
     "127.0.0.1:9001:9001", {("minio", "port"): {"S3_CONSOLE_PORT": "native only",
                                                 "9001": "compose only"}}),
    # A credential under another name.
    ("MINIO_ROOT_USER: ${S3_ACCESS_KEY:", "MINIO_ROOT_USER: ${AIRFLOW_ADMIN_USER:",
     {("minio", "credential"): {"S3_ACCESS_KEY": "native only", "AIRFLOW_ADMIN_USER": "compose only"}}),
    # A shared config file no longer mounted.
    ("      - ../trino/etc/jvm.config:/etc/trino/jvm.config:ro\n", "",
     {("trino", "config"): {"trino/etc/jvm.config": "native only"}}),
    # A service renamed.
    ("\n  minio:\n", "\n  s3:\n",
     {("minio", "service"): {"minio": "native only"}, ("s3", "service"): {"s3": "compose only"}}),
])
def test_a_drifted_compose_file_fails_parity(
    tmp_path: Path, env_file: Path, diffs: dict[Key, dict[str, str]],
    old: str, new: str, expected: dict[Key, dict[str, str]],
) -> None:
    drifted = _drifted(tmp_path, old, new)
    if "s3:" in new:  # other services refer to it by name
        drifted.write_text(drifted.read_text().replace("      minio:\n        condition", "      s3:\n"
                                                       "        condition"))
    settings, port_names = distinct_ports_env(env_file)
    found = unexplained(differences(native_facts(settings), compose_facts(env_file, drifted), port_names))
    assert found == {**unexplained(diffs), **expected}
