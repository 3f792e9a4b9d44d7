"""The compose way to run the stack, validated without a Docker engine.

The real compose CLI (`docker-compose config`) parses, interpolates and checks
docker_all/docker-compose.yaml against the compose spec without a daemon;
hadolint lints the Dockerfiles. Both are installed into ${TXLAKE_CACHE}/bin by
scripts/install_compose_tools.sh; these tests fail (not skip) without them.

The checks read the resolved config (`config --format json`) and the raw file
(for comments and literal values), and compare both with the native stack's
configuration: the same settings, ports, worker properties and config files.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import secrets
import shutil
import stat
import subprocess
import sys
import textwrap
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from txlake.settings import GENERATED_SECRETS, Settings, ensure_env_file

ROOT = Path(__file__).resolve().parents[2]
DOCKER_DIR = ROOT / "docker_all"
COMPOSE_FILE = DOCKER_DIR / "docker-compose.yaml"
ENV_EXAMPLE = ROOT / ".env.example"
CONNECT_PROPERTIES = ROOT / "config" / "kafka" / "connect-distributed.properties"
POSTGRES_CONF = ROOT / "config" / "postgres" / "postgresql.conf"
TRINO_DIR = ROOT / "trino"
INSTALL_HINT = "run scripts/install_compose_tools.sh (installs docker-compose and hadolint)"

LONG_RUNNING = ("postgres", "kafka", "connect", "minio")
# Long-running services that start after the one-shot init.
AFTER_INIT = ("trino",)
SECRET_KEY_RE = re.compile(r"PASSWORD|SECRET|_KEY$|TOKEN", re.IGNORECASE)
INTERPOLATION_RE = re.compile(r"^\$\{[A-Z0-9_]+(?::?[-?][^}]*)?\}$")


# --- tools -------------------------------------------------------------------


def _cache_dir() -> Path:
    """TXLAKE_CACHE as txlake resolves it: environment, then .env, then the default."""
    value = os.environ.get("TXLAKE_CACHE", "")
    env_file = ROOT / ".env"
    if not value and env_file.exists():
        for line in env_file.read_text().splitlines():
            if line.startswith("TXLAKE_CACHE="):
                value = line.partition("=")[2].strip()
    return Path(value or "~/.cache/txlake").expanduser()


def _tool(name: str) -> Path:
    path = _cache_dir() / "bin" / name
    if not (path.is_file() and os.access(path, os.X_OK)):
        pytest.fail(f"{name} not found at {path}: {INSTALL_HINT}", pytrace=False)
    return path


@pytest.fixture(scope="module")
def compose_bin() -> Path:
    return _tool("docker-compose")


@pytest.fixture(scope="module")
def hadolint_bin() -> Path:
    return _tool("hadolint")


def _clean_env() -> dict[str, str]:
    # Only the env file may feed interpolation: nothing from the caller's shell.
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/tmp")}


def run_compose(compose_bin: Path, env_file: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(compose_bin), "-f", str(COMPOSE_FILE), "--env-file", str(env_file), *args],
        capture_output=True, text=True, timeout=60, env=_clean_env(), cwd=ROOT,
    )


# --- settings ----------------------------------------------------------------


def read_env(path: Path) -> dict[str, str]:
    out = {}
    for line in path.read_text().splitlines():
        name, sep, value = line.partition("=")
        if sep and not name.lstrip().startswith("#"):
            out[name.strip()] = value.strip()
    return out


def write_test_env(path: Path, overrides: dict[str, str] | None = None) -> dict[str, str]:
    """A .env made from .env.example, blank secrets filled with recognizable test values."""
    lines = []
    values = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        name, sep, value = line.partition("=")
        name = name.strip()
        if sep and not name.startswith("#"):
            if name in GENERATED_SECRETS and not value.strip():
                value = f"test{name.lower().replace('_', '')}{secrets.token_hex(6)}"
            if overrides and name in overrides:
                value = overrides[name]
            values[name] = value
            line = f"{name}={value}"
        lines.append(line)
    path.write_text("\n".join(lines) + "\n")
    return values


@pytest.fixture(scope="module")
def test_env(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    path = tmp_path_factory.mktemp("compose") / "test.env"
    return path, write_test_env(path)


@pytest.fixture(scope="module")
def config(compose_bin: Path, test_env: tuple[Path, dict[str, str]]) -> dict:
    result = run_compose(compose_bin, test_env[0], "config", "--format", "json")
    assert result.returncode == 0, f"docker-compose config failed:\n{result.stderr}"
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def services(config: dict) -> dict[str, dict]:
    return config["services"]


def host_ports(service: dict) -> set[int]:
    return {int(port["published"]) for port in service.get("ports", [])}


# --- validation --------------------------------------------------------------


def test_compose_file_validates(compose_bin: Path, test_env: tuple[Path, dict[str, str]]) -> None:
    result = run_compose(compose_bin, test_env[0], "config", "-q")
    assert result.returncode == 0, result.stderr
    # No "variable is not set" warnings: every name the file uses is in .env.example.
    assert "not set" not in result.stderr, result.stderr
    assert result.stdout == ""


def test_compose_tool_is_pinned_version(compose_bin: Path) -> None:
    result = subprocess.run([str(compose_bin), "version"], capture_output=True, text=True,
                            timeout=30, env=_clean_env())
    assert result.returncode == 0
    assert "v5.5.0" in result.stdout, result.stdout


def test_stack_services_are_defined(services: dict[str, dict]) -> None:
    assert set(LONG_RUNNING) | {"init"} | set(AFTER_INIT) <= set(services)


@pytest.mark.parametrize("secret", ["POSTGRES_PASSWORD", "DEBEZIUM_PASSWORD", "S3_SECRET_KEY"])
def test_missing_secret_is_a_clear_error(
    compose_bin: Path, tmp_path: Path, secret: str
) -> None:
    env_file = tmp_path / "blank.env"
    write_test_env(env_file, {secret: ""})
    result = run_compose(compose_bin, env_file, "config", "-q")
    assert result.returncode != 0
    assert secret in result.stderr
    assert "init_env.sh" in result.stderr, "the error should say how to create the secret"


# --- ports -------------------------------------------------------------------


def test_published_ports_bind_loopback_only(services: dict[str, dict]) -> None:
    published = [(name, port) for name, svc in services.items() for port in svc.get("ports", [])]
    assert published, "the stack publishes no port at all"
    for name, port in published:
        assert port.get("host_ip") == "127.0.0.1", f"{name} publishes {port} beyond loopback"


def test_published_ports_are_the_settings_ports(
    services: dict[str, dict], test_env: tuple[Path, dict[str, str]]
) -> None:
    settings = Settings(_env_file=test_env[0])  # type: ignore[call-arg]
    assert host_ports(services["postgres"]) == {settings.postgres_port}
    assert host_ports(services["kafka"]) == {settings.kafka_port}
    assert host_ports(services["connect"]) == {settings.kafka_connect_port}
    assert host_ports(services["minio"]) == {settings.s3_port, settings.s3_console_port}
    assert host_ports(services["trino"]) == {settings.trino_port}


def test_ports_follow_the_env_file(compose_bin: Path, tmp_path: Path) -> None:
    env_file = tmp_path / "ports.env"
    write_test_env(env_file, {"POSTGRES_PORT": "15432", "S3_CONSOLE_PORT": "19001"})
    result = run_compose(compose_bin, env_file, "config", "--format", "json")
    assert result.returncode == 0, result.stderr
    services = json.loads(result.stdout)["services"]
    assert host_ports(services["postgres"]) == {15432}
    assert 19001 in host_ports(services["minio"])


# --- images ------------------------------------------------------------------


def _pinned(image: str) -> bool:
    name, _, digest = image.partition("@")
    last = name.rsplit("/", 1)[-1]
    if ":" not in last:
        return bool(digest)
    tag = last.rsplit(":", 1)[1]
    return tag != "latest" and re.search(r"\d", tag) is not None


def test_every_image_has_a_pinned_tag(services: dict[str, dict]) -> None:
    for name, svc in services.items():
        if "build" in svc:
            continue  # built here: its FROM lines are checked below
        image = svc.get("image", "")
        assert image, f"{name} has neither image nor build"
        assert _pinned(image), f"{name}: image {image!r} is not pinned to a release tag"


def _comment_above(lines: list[str], index: int) -> str:
    block = []
    for line in reversed(lines[:index]):
        if not line.strip().startswith("#"):
            break
        block.append(line)
    return "\n".join(block) + "\n" + lines[index].partition("#")[2]


def test_every_pulled_image_cites_where_its_tag_is_documented(services: dict[str, dict]) -> None:
    built = {svc.get("image") for svc in services.values() if "build" in svc}
    lines = COMPOSE_FILE.read_text().splitlines()
    image_lines = [i for i, line in enumerate(lines) if re.match(r"^\s+image:\s*\S", line)]
    assert len(image_lines) >= len(LONG_RUNNING)
    for i in image_lines:
        image = lines[i].split("image:", 1)[1].split("#")[0].strip()
        if image in built:
            continue
        comment = _comment_above(lines, i)
        assert re.search(r"https://\S+", comment), f"line {i + 1}: {image} has no source cited"


def dockerfiles() -> list[Path]:
    found = DOCKER_DIR.rglob("Dockerfile*")
    return sorted(p for p in found if not p.name.endswith(".dockerignore"))


def test_dockerfile_base_images_are_pinned_and_cited() -> None:
    assert dockerfiles(), "no Dockerfile under docker_all/"
    for dockerfile in dockerfiles():
        lines = dockerfile.read_text().splitlines()
        froms = [i for i, line in enumerate(lines) if re.match(r"^FROM\s", line, re.IGNORECASE)]
        assert froms, f"{dockerfile} has no FROM"
        for i in froms:
            image = lines[i].split()[1]
            assert _pinned(image), f"{dockerfile.name}:{i + 1}: {image} is not pinned"
            assert re.search(r"https://\S+", _comment_above(lines, i)), (
                f"{dockerfile.name}:{i + 1}: {image} has no source cited"
            )


# --- secrets -----------------------------------------------------------------


def test_no_literal_secret_values_in_the_compose_file() -> None:
    pattern = re.compile(r"^\s*(?:-\s*)?([A-Za-z0-9_]+)\s*[:=]\s*(\S.*)$")
    checked = 0
    for number, line in enumerate(COMPOSE_FILE.read_text().splitlines(), start=1):
        if line.strip().startswith("#"):
            continue
        match = pattern.match(line)
        if not match or not SECRET_KEY_RE.search(match.group(1)):
            continue
        value = match.group(2).split(" #")[0].strip().strip("'\"")
        checked += 1
        assert INTERPOLATION_RE.match(value), (
            f"line {number}: {match.group(1)} has a literal value; use ${{NAME:?...}} from .env"
        )
    assert checked >= 5, "expected the credentials to be set from .env"


def test_credentials_come_from_the_env_file(
    services: dict[str, dict], test_env: tuple[Path, dict[str, str]]
) -> None:
    values = test_env[1]
    pg = services["postgres"]["environment"]
    assert pg["POSTGRES_PASSWORD"] == values["POSTGRES_PASSWORD"]
    assert pg["POSTGRES_USER"] == values["POSTGRES_USER"]
    assert pg["POSTGRES_DB"] == values["POSTGRES_DB"]
    minio = services["minio"]["environment"]
    assert minio["MINIO_ROOT_USER"] == values["S3_ACCESS_KEY"]
    assert minio["MINIO_ROOT_PASSWORD"] == values["S3_SECRET_KEY"]
    assert services["connect"]["environment"]["DEBEZIUM_PASSWORD"] == values["DEBEZIUM_PASSWORD"]
    # Only the services that need a secret get it.
    for name, svc in services.items():
        env = svc.get("environment") or {}
        if name not in ("connect", "init"):
            assert values["DEBEZIUM_PASSWORD"] not in env.values(), name


# --- health and order --------------------------------------------------------


def test_long_running_services_have_healthchecks_and_restart(services: dict[str, dict]) -> None:
    for name in LONG_RUNNING + AFTER_INIT:
        svc = services[name]
        check = svc.get("healthcheck") or {}
        assert not check.get("disable"), name
        assert check.get("test") and check["test"][0] in ("CMD", "CMD-SHELL"), name
        assert svc.get("restart") in ("unless-stopped", "always", "on-failure"), name
    assert services["init"].get("restart") == "no", "init is one-shot"


def test_init_waits_for_healthy_services(services: dict[str, dict]) -> None:
    depends = services["init"].get("depends_on", {})
    for name in LONG_RUNNING:
        assert depends.get(name, {}).get("condition") == "service_healthy", name
    assert services["connect"]["depends_on"]["kafka"]["condition"] == "service_healthy"
    # Anything later that needs the initialized stack waits for init to finish.
    for name, svc in services.items():
        if name not in (*LONG_RUNNING, "init"):
            condition = svc.get("depends_on", {}).get("init", {}).get("condition")
            assert condition == "service_completed_successfully", name


def test_init_runs_the_txlake_entry_point(services: dict[str, dict]) -> None:
    init = services["init"]
    assert init["command"] == ["python", "external_scripts/init_stack.py"]
    assert init["build"]["dockerfile"] == "docker_all/Dockerfile"
    assert Path(init["build"]["context"]).resolve() == ROOT


def test_init_uses_the_compose_network_addresses(services: dict[str, dict]) -> None:
    env = services["init"]["environment"]
    pg_target = {p["target"] for p in services["postgres"]["ports"]}
    assert env["POSTGRES_HOST"] == "postgres" and int(env["POSTGRES_PORT"]) in pg_target
    advertised = services["kafka"]["environment"]["KAFKA_ADVERTISED_LISTENERS"]
    assert f"://{env['KAFKA_BOOTSTRAP_SERVERS']}" in advertised
    connect = urlsplit(env["KAFKA_CONNECT_URL"])
    assert (connect.hostname, connect.port) == ("connect", 8083)
    assert services["connect"]["environment"]["CONNECT_LISTENERS"].endswith(":8083")
    s3 = urlsplit(env["S3_ENDPOINT"])
    assert s3.hostname == "minio" and s3.port in {p["target"] for p in services["minio"]["ports"]}
    # What init passes is a valid txlake configuration on its own.
    settings = Settings(**{k.lower(): v for k, v in env.items()})
    assert settings.postgres_host == "postgres"


def test_kafka_has_internal_and_loopback_listeners(
    services: dict[str, dict], test_env: tuple[Path, dict[str, str]]
) -> None:
    env = services["kafka"]["environment"]
    settings = Settings(_env_file=test_env[0])  # type: ignore[call-arg]
    advertised = dict(
        item.split("://", 1)[::-1] for item in env["KAFKA_ADVERTISED_LISTENERS"].split(",")
    )
    listeners = {item.split("://", 1)[0]: item for item in env["KAFKA_LISTENERS"].split(",")}
    external = advertised[f"127.0.0.1:{settings.kafka_port}"]
    # The host's advertised listener is the one the published port leads to.
    (port,) = services["kafka"]["ports"]
    assert listeners[external].endswith(f":{port['target']}")
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"


def _properties(path: Path) -> dict[str, str]:
    out = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            out[key.strip()] = value.strip()
    return out


def test_connect_worker_matches_the_native_worker(services: dict[str, dict]) -> None:
    native = _properties(CONNECT_PROPERTIES)
    env = services["connect"]["environment"]
    # The Debezium image's own variables for these, CONNECT_<PROPERTY> for the rest.
    own = {
        "bootstrap.servers": None,  # differs by design: the compose network's address
        "group.id": "GROUP_ID",
        "config.storage.topic": "CONFIG_STORAGE_TOPIC",
        "offset.storage.topic": "OFFSET_STORAGE_TOPIC",
        "status.storage.topic": "STATUS_STORAGE_TOPIC",
        "offset.flush.interval.ms": "OFFSET_FLUSH_INTERVAL_MS",
        "key.converter": "KEY_CONVERTER",
        "value.converter": "VALUE_CONVERTER",
        "listeners": None,  # http://0.0.0.0:8083 in the container
        "rest.advertised.host.name": None,
        "rest.advertised.port": None,
        "plugin.path": None,  # the image's own plugin directory
        "plugin.discovery": None,  # worker start-up speed only
    }
    for key, value in native.items():
        name = own.get(key, "CONNECT_" + key.upper().replace(".", "_"))
        if name is None:
            continue
        assert env.get(name) == value, f"{key}: native {value!r}, compose {name}={env.get(name)!r}"
    assert env["CONNECT_CONFIG_PROVIDERS_ENV_CLASS"].endswith(".EnvVarConfigProvider")


def test_connector_secret_reference_resolves_in_the_worker(services: dict[str, dict]) -> None:
    connector = json.loads((ROOT / "config" / "debezium" / "postgres-connector.json").read_text())
    refs = re.findall(r"\$\{env:([A-Z0-9_]+)\}", json.dumps(connector))
    assert refs, "the connector config should take its password from the worker's environment"
    env = services["connect"]["environment"]
    providers = env["CONNECT_CONFIG_PROVIDERS"].split(",")
    assert "env" in providers
    for name in refs:
        assert env.get(name), f"the connect worker lacks {name} in its environment"


def test_postgres_reads_the_shared_config_file(services: dict[str, dict]) -> None:
    pg = services["postgres"]
    command = " ".join(pg["command"])
    match = re.search(r"config_file=(\S+)", command)
    assert match, "postgres must be started with -c config_file=..."
    mounts = {m["target"]: m for m in pg["volumes"]}
    conf = mounts[match.group(1)]
    assert conf["type"] == "bind" and Path(conf["source"]).resolve() == POSTGRES_CONF
    assert "wal_level = logical" in POSTGRES_CONF.read_text()
    hba = re.search(r"hba_file=(\S+)", command)
    if hba:
        source = Path(mounts[hba.group(1)]["source"])
        rules = [line.split() for line in source.read_text().splitlines()
                 if line.strip() and not line.startswith("#")]
        assert any(r[0] == "host" and r[1] == "replication" for r in rules), (
            "Debezium connects from another container: pg_hba must allow host replication"
        )


def test_stateful_services_use_named_volumes(config: dict) -> None:
    declared = set(config.get("volumes", {}))
    for name, target in (("postgres", "/var/lib/postgresql/data"), ("kafka", "/var/lib/kafka/data"),
                         ("minio", "/data")):
        mounts = {m["target"]: m for m in config["services"][name].get("volumes", [])}
        assert target in mounts, f"{name} keeps no data in {target}"
        assert mounts[target]["type"] == "volume" and mounts[target]["source"] in declared, name


# --- Trino -----------------------------------------------------------------------


def test_trino_image_is_the_native_version(services: dict[str, dict]) -> None:
    from txlake.stack import versions

    assert services["trino"]["image"] == f"trinodb/trino:{versions.TRINO}"


def test_trino_mounts_the_shared_catalogs_and_settings(services: dict[str, dict]) -> None:
    mounts = {m["target"]: m for m in services["trino"]["volumes"]}
    catalog = mounts["/etc/trino/catalog"]
    assert catalog["type"] == "bind" and Path(catalog["source"]).resolve() == TRINO_DIR / "catalog"
    assert {p.name for p in (TRINO_DIR / "catalog").glob("*.properties")} >= {
        "lakehouse.properties", "source.properties"}
    for name in ("config.properties", "jvm.config"):
        mount = mounts[f"/etc/trino/{name}"]
        assert Path(mount["source"]).resolve() == TRINO_DIR / "etc" / name
        assert mount.get("read_only") is True


def _trino_env_references(files: list[Path]) -> set[str]:
    lines = [line for f in files for line in f.read_text().splitlines()
             if not line.lstrip().startswith(("#", "-"))]  # comments, JVM options
    return {name for line in lines for name in re.findall(r"\$\{ENV:([A-Z0-9_]+)\}", line)}


def test_every_trino_env_reference_is_set_in_both_stacks(
    services: dict[str, dict], test_env: tuple[Path, dict[str, str]]
) -> None:
    """The shared files say ${ENV:NAME}; the container and the native server both set NAME."""
    from txlake.stack.trino import server_env

    mounted = [Path(m["source"]) for m in services["trino"]["volumes"]]
    files = [f for m in mounted for f in (sorted(m.glob("*.properties")) if m.is_dir() else [m])]
    names = _trino_env_references(files)
    assert {"S3_SECRET_KEY", "TRINO_SOURCE_PASSWORD", "TRINO_HTTP_PORT"} <= names
    env = services["trino"]["environment"]
    assert names <= set(env), f"unset in compose: {names - set(env)}"
    native = server_env(Settings(_env_file=test_env[0]))  # type: ignore[call-arg]
    assert names <= set(native), f"unset natively: {names - set(native)}"
    # Same values where the two stacks do not differ by design (addresses).
    for name in names - {"S3_ENDPOINT", "POSTGRES_HOST", "POSTGRES_PORT", "TRINO_HTTP_PORT"}:
        assert env[name] == native[name], name
    assert (env["POSTGRES_HOST"], env["S3_ENDPOINT"]) == ("postgres", "http://minio:9000")
    (port,) = services["trino"]["ports"]
    assert int(env["TRINO_HTTP_PORT"]) == port["target"]


# --- Dockerfiles ---------------------------------------------------------------


def _ignored(path: str, patterns: list[str]) -> bool:
    """Docker's rule for .dockerignore: the last matching pattern wins; `!` re-includes."""
    ignored = False
    parts = Path(path).parts
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    for pattern in patterns:
        negated = pattern.startswith("!")
        pattern = pattern.lstrip("!").strip("/")
        if any(fnmatch.fnmatch(prefix, pattern) for prefix in prefixes):
            ignored = not negated
    return ignored


def test_dockerfile_copies_only_what_the_context_has(services: dict[str, dict]) -> None:
    """What `docker build` would need: every COPY source exists and is not ignored."""
    build = services["init"]["build"]
    context = Path(build["context"]).resolve()
    assert context == ROOT
    dockerfile = context / build["dockerfile"]
    ignore_file = dockerfile.with_name(dockerfile.name + ".dockerignore")
    patterns = [line.strip() for line in ignore_file.read_text().splitlines()
                if line.strip() and not line.startswith("#")]
    copies = [line.split()[1:] for line in dockerfile.read_text().splitlines()
              if re.match(r"^(COPY|ADD)\s", line)]
    assert copies
    for args in copies:
        if any(arg.startswith("--from") for arg in args):
            continue
        for source in [a for a in args if not a.startswith("--")][:-1]:
            assert (context / source).exists(), f"{dockerfile.name} copies {source}: missing"
            assert not _ignored(source, patterns), f"{source} is excluded by {ignore_file.name}"
    # The context leaves out what must not reach an image.
    for private in (".env", ".venv/bin/python", ".git/HEAD", ".txlake/x"):
        assert _ignored(private, patterns), private


@pytest.mark.parametrize("dockerfile", dockerfiles(), ids=lambda p: str(p.relative_to(ROOT)))
def test_hadolint_passes(hadolint_bin: Path, dockerfile: Path) -> None:
    result = subprocess.run([str(hadolint_bin), "--no-color", str(dockerfile)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_catches_a_bad_dockerfile(hadolint_bin: Path, tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN apt-get update && apt-get install -y curl\n")
    result = subprocess.run([str(hadolint_bin), "--no-color", str(bad)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "DL3007" in result.stdout  # latest tag


# --- scripts/init_env.sh -----------------------------------------------------------


INIT_ENV = ROOT / "scripts" / "init_env.sh"


def _run_init_env(project: Path) -> subprocess.CompletedProcess:
    env = {**_clean_env(), "TXLAKE_PROJECT_DIR": str(project)}
    return subprocess.run(["bash", str(INIT_ENV)], capture_output=True, text=True,
                          timeout=30, env=env)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "docker_all").mkdir()
    shutil.copy(ENV_EXAMPLE, tmp_path / ".env.example")
    return tmp_path


def test_init_env_fills_the_same_secrets_as_txlake() -> None:
    match = re.search(r"^GENERATED_SECRETS=\(([^)]*)\)", INIT_ENV.read_text(), re.MULTILINE)
    assert match and tuple(match.group(1).split()) == GENERATED_SECRETS


def test_init_env_creates_env_with_secrets(project: Path, compose_bin: Path) -> None:
    result = _run_init_env(project)
    assert result.returncode == 0, result.stderr
    env_file = project / ".env"
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    produced, example = env_file.read_text().splitlines(), ENV_EXAMPLE.read_text().splitlines()
    assert len(produced) == len(example)
    values = read_env(env_file)
    for name in GENERATED_SECRETS:
        assert re.fullmatch(r"[A-Za-z0-9]{32}", values[name]), name
    assert len({values[name] for name in GENERATED_SECRETS}) == len(GENERATED_SECRETS)
    for before, after in zip(example, produced, strict=True):
        if before.partition("=")[0] not in GENERATED_SECRETS:
            assert before == after
    # txlake finds nothing to add, loads it, and compose accepts it.
    ensure_env_file(env_file)
    assert env_file.read_text().splitlines() == produced
    Settings(_env_file=env_file)  # type: ignore[call-arg]
    assert run_compose(compose_bin, env_file, "config", "-q").returncode == 0
    link = project / "docker_all" / ".env"
    assert link.is_symlink() and link.resolve() == env_file.resolve()


def test_init_env_keeps_existing_values(project: Path) -> None:
    env_file = project / ".env"
    text = ENV_EXAMPLE.read_text().replace("POSTGRES_PASSWORD=\n", "POSTGRES_PASSWORD=mine-1234\n")
    env_file.write_text(text + "EXTRA_LINE=kept\n")
    env_file.chmod(0o644)
    assert _run_init_env(project).returncode == 0
    values = read_env(env_file)
    assert values["POSTGRES_PASSWORD"] == "mine-1234"
    assert values["EXTRA_LINE"] == "kept"
    assert values["DEBEZIUM_PASSWORD"]
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    first = env_file.read_text()
    assert _run_init_env(project).returncode == 0
    assert env_file.read_text() == first, "a second run must change nothing"


# --- external_scripts/init_stack.py ------------------------------------------------


def test_init_stack_runs_txlake_stack_init_and_keeps_its_exit_code(tmp_path: Path) -> None:
    # A stand-in txlake package records how it was called and fails with code 3.
    fake = tmp_path / "fake" / "txlake" / "cli"
    fake.mkdir(parents=True)
    (fake.parent / "__init__.py").write_text("")
    (fake / "__init__.py").write_text(textwrap.dedent("""
        import json, os, sys

        def main():
            with open(os.environ["ARGV_OUT"], "w") as out:
                json.dump(sys.argv, out)
            sys.exit(3)
    """))
    argv_out = tmp_path / "argv.json"
    env = {**_clean_env(), "PYTHONPATH": str(tmp_path / "fake"), "ARGV_OUT": str(argv_out)}
    result = subprocess.run(
        [sys.executable, str(ROOT / "external_scripts" / "init_stack.py"), "--extra"],
        capture_output=True, text=True, timeout=60, env=env, cwd=tmp_path,
    )
    assert result.returncode == 3, result.stderr
    assert json.loads(argv_out.read_text()) == ["txlake", "stack", "init", "--extra"]


def test_init_stack_reaches_the_real_cli() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "external_scripts" / "init_stack.py"), "--help"],
        capture_output=True, text=True, timeout=120, cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    assert "Usage: txlake stack init" in result.stdout
