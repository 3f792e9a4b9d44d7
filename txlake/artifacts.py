"""Download, build and cache what the native stack runs.

Everything lands under the cache directory (TXLAKE_CACHE, ~/.cache/txlake by
default) once, is verified, and is reused by every later `stack up` and every
checkout. A half-finished download never counts: each artifact is written to
a temporary name and marked complete only after it verified.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from txlake.errors import TxlakeError

MAVEN_CENTRAL = "https://repo.maven.apache.org/maven2"
MAVEN_DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1"


class ArtifactError(TxlakeError):
    pass


def say(message: str) -> None:
    print(f"[txlake] {message}", file=sys.stderr, flush=True)
    for listener in getattr(_listeners, "stack", ()):
        listener(message)


# Who else hears the progress lines said in a thread: the features driver
# relays a job's lines to the command that asked for it. Per thread, so what
# other threads say meanwhile (the driver's request log) stays out of them.
_listeners = threading.local()


@contextmanager
def said_to(listener: Callable[[str], None]) -> Iterator[None]:
    """Pass every progress line this thread says to `listener` too, while the block runs."""
    if not hasattr(_listeners, "stack"):
        _listeners.stack = []
    _listeners.stack.append(listener)
    try:
        yield
    finally:
        _listeners.stack.remove(listener)


def _complete_marker(path: Path) -> Path:
    return path.with_name(path.name + ".complete")


def _run(command: list[str], what: str, log: Path, env: dict[str, str] | None = None) -> None:
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "w") as out:
        result = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, env=env)
    if result.returncode != 0:
        raise ArtifactError(f"{what} failed (exit {result.returncode}); see {log}")


def _dependency(coordinate: str, exclusions: list[str]) -> str:
    group, artifact, version = coordinate.split(":")
    excluded = "".join(
        "<exclusion><groupId>{}</groupId><artifactId>{}</artifactId></exclusion>".format(
            *e.split(":")) for e in exclusions)
    return (f"<dependency><groupId>{group}</groupId><artifactId>{artifact}</artifactId>"
            f"<version>{version}</version><exclusions>{excluded}</exclusions></dependency>")


def maven_dependencies(cache: Path, name: str, coordinates: list[str],
                       exclusions: dict[str, list[str]] | None = None) -> Path:
    """Resolve Maven coordinates (group:artifact:version) with their runtime
    dependencies into `<cache>/<name>/libs`, once. `exclusions` maps a
    coordinate to group:artifact pairs of dependencies to leave out.

    Maven verifies every download against Central's checksums (-C).
    """
    exclusions = exclusions or {}
    target = cache / name
    libs = target / "libs"
    marker = _complete_marker(libs)
    wanted = "\n".join(sorted(coordinates) + sorted(f"{c} -{e}" for c, es in exclusions.items()
                                                    for e in es))
    if marker.exists() and marker.read_text() == wanted:
        return libs
    if shutil.which("mvn") is None:
        raise ArtifactError("Maven (mvn) is needed to fetch the JVM services: apt-get install maven")
    say(f"resolving {name} from Maven Central (first run only) ...")
    started = time.monotonic()
    target.mkdir(parents=True, exist_ok=True)
    deps = "".join(_dependency(c, exclusions.get(c, [])) for c in coordinates)
    (target / "pom.xml").write_text(
        '<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>'
        f"<groupId>txlake.cache</groupId><artifactId>{name}</artifactId><version>1</version>"
        f"<packaging>pom</packaging><dependencies>{deps}</dependencies></project>"
    )
    staging = target / "libs.partial"
    shutil.rmtree(staging, ignore_errors=True)
    _run(
        ["mvn", "-B", "-C", "-ntp", "-f", str(target / "pom.xml"),
         f"{MAVEN_DEPENDENCY_PLUGIN}:copy-dependencies",
         "-DincludeScope=runtime", f"-DoutputDirectory={staging}"],
        f"resolving {name} with Maven",
        target / "maven.log",
    )
    shutil.rmtree(libs, ignore_errors=True)
    staging.rename(libs)
    marker.write_text(wanted)
    count = len(list(libs.glob("*.jar")))
    size = sum(f.stat().st_size for f in libs.iterdir()) / 1e6
    say(f"{name}: {count} jars, {size:.0f} MB in {time.monotonic() - started:.0f}s")
    return libs


def maven_url(group: str, artifact: str, version: str, classifier: str, ext: str) -> str:
    suffix = f"-{classifier}" if classifier else ""
    return (f"{MAVEN_CENTRAL}/{group.replace('.', '/')}/{artifact}/{version}/"
            f"{artifact}-{version}{suffix}.{ext}")


def download(url: str, sha256: str, dest: Path) -> Path:
    """Download `url` to `dest` once, verifying its SHA-256; progress on stderr."""
    marker = _complete_marker(dest)
    if dest.exists() and marker.exists() and marker.read_text() == sha256:
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    say(f"downloading {url.rsplit('/', 1)[-1]} ...")
    digest = hashlib.sha256()
    partial = dest.with_name(dest.name + ".partial")
    try:
        with urllib.request.urlopen(url, timeout=60) as response, open(partial, "wb") as out:
            total = int(response.headers.get("Content-Length") or 0)
            done, last = 0, 0.0
            while chunk := response.read(1 << 20):
                out.write(chunk)
                digest.update(chunk)
                done += len(chunk)
                if total and time.monotonic() - last > 2:
                    last = time.monotonic()
                    say(f"  {done / 1e6:.0f}/{total / 1e6:.0f} MB")
    except OSError as error:
        raise ArtifactError(f"download of {url} failed: {error}") from error
    if digest.hexdigest() != sha256:
        partial.unlink(missing_ok=True)
        raise ArtifactError(f"checksum mismatch for {url}: got {digest.hexdigest()}, pinned {sha256}")
    partial.replace(dest)
    marker.write_text(sha256)
    return dest


def unpack_tar(archive: Path, into: Path) -> Path:
    """Unpack a tarball into `into` once (replacing any half-unpacked copy)."""
    marker = _complete_marker(into)
    if marker.exists():
        return into
    staging = Path(tempfile.mkdtemp(dir=into.parent, prefix=into.name + "."))
    with tarfile.open(archive) as tar:
        tar.extractall(staging, filter="data")
    shutil.rmtree(into, ignore_errors=True)
    staging.rename(into)
    marker.write_text(archive.name)
    return into


def go_install(cache: Path, module: str, version: str, binary: str) -> Path:
    """Build a Go program from its module (through the Go module proxy) once."""
    bindir = cache / "bin" / f"{binary}-{version}"
    exe = bindir / binary
    marker = _complete_marker(exe)
    if exe.exists() and marker.exists():
        return exe
    if shutil.which("go") is None:
        raise ArtifactError(f"Go is needed to build {binary} ({module}): apt-get install golang")
    say(f"building {binary} from {module}@{version} (first run only, a few minutes) ...")
    started = time.monotonic()
    # GOTOOLCHAIN=auto: an older local Go fetches the toolchain the module asks
    # for through the module proxy instead of failing.
    env = dict(os.environ, GOBIN=str(bindir), CGO_ENABLED="0", GOTOOLCHAIN="auto")
    _run(["go", "install", "-trimpath", f"{module}@{version}"], f"building {binary}",
         bindir.parent / f"{binary}-build.log", env=env)
    if not exe.exists():
        raise ArtifactError(f"building {binary} produced no binary in {bindir}")
    marker.write_text(version)
    say(f"{binary} built in {time.monotonic() - started:.0f}s")
    return exe
