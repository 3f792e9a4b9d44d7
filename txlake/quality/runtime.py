"""The quality runtime: its own Python environment with Spark 3.5 and pydeequ.

Why a second runtime: pydeequ needs Deequ's JVM library built for the Spark
it runs on. The lake's Spark is 4.1 (Scala 2.13); the Deequ build for it
(2.0.18-spark-4.1, which pydeequ 1.7.0 asks for) is not on Maven Central as
reachable from here and from CI, and the Spark 3.5 builds are Scala 2.12,
which a Scala 2.13 JVM cannot load. So the checks run in a subprocess on
Spark 3.5 + Delta 3.3 + Deequ 2.1.0-spark-3.5, all from PyPI and Maven
Central. Delta 3.3 reads the tables Delta 4.4 writes here (reader features:
deletion vectors only).

Installed once into the cache, in a directory named after a hash of what it
holds, so a changed pin gets a fresh environment and never a half-updated one.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from txlake import artifacts
from txlake.artifacts import say
from txlake.settings import Settings

# Every package of the environment pinned (a lock, made with `pip freeze`).
REQUIREMENTS = (
    "pyspark==3.5.8",
    "delta-spark==3.3.2",
    "pydeequ==1.7.0",
    "py4j==0.10.9.9",
    "numpy==2.4.6",
    "pandas==3.1.1",
    "python-dateutil==4.0.0",
    "tzdata==2026.6",
    "importlib_metadata==10.2.0",
    "zipp==4.1.2",
    "lazy-importer==0.1.0",
)
DEEQU = "com.amazon.deequ:deequ:2.1.0-spark-3.5"
# The Hadoop inside the pyspark 3.5.8 wheel is 3.3.4; hadoop-aws must match it.
JARS = [DEEQU, "io.delta:delta-spark_2.12:3.3.2", "org.apache.hadoop:hadoop-aws:3.3.4"]
# Deequ's rule-language parser (DQDL) is published by AWS Glue outside Maven
# Central; txlake does not use DQDL.
EXCLUSIONS = {DEEQU: ["software.amazon.glue:dqdl"]}


@dataclass(frozen=True)
class Runtime:
    python: Path
    jars: tuple[str, ...]


def lock_hash() -> str:
    text = "\n".join(REQUIREMENTS + tuple(JARS) + (f"python{sys.version_info[:2]}",))
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def _venv(cache: Path) -> Path:
    target = cache / "venvs" / f"quality-{lock_hash()}"
    marker = target.with_name(target.name + ".complete")
    if marker.exists() and (target / "bin" / "python").exists():
        return target
    say(f"installing the quality runtime (pyspark 3.5 + pydeequ) into {target} (first run only) ...")
    started = time.monotonic()
    staging = target.with_name(target.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.parent.mkdir(parents=True, exist_ok=True)
    base = getattr(sys, "_base_executable", sys.executable)
    log = cache / "venvs" / f"quality-{lock_hash()}.log"
    artifacts._run([base, "-m", "venv", str(staging)], "creating the quality virtualenv", log)
    requirements = staging / "requirements.txt"
    requirements.write_text("\n".join(REQUIREMENTS) + "\n")
    # --no-deps: the list above is the whole environment, so nothing floats.
    artifacts._run([str(staging / "bin" / "python"), "-m", "pip", "install", "--no-deps",
                    "--disable-pip-version-check", "-q", "-r", str(requirements)],
                   "installing the quality runtime's packages", log)
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)
    # A virtualenv records its own path in its scripts: rewrite the moved ones.
    for script in (target / "bin").iterdir():
        if script.is_file() and not script.is_symlink():
            try:
                text = script.read_text()
            except UnicodeDecodeError:
                continue
            if str(staging) in text:
                script.write_text(text.replace(str(staging), str(target)))
    marker.write_text(lock_hash())
    say(f"quality runtime installed in {time.monotonic() - started:.0f}s")
    return target


def _artifact_name(jar: Path) -> str:
    return re.sub(r"-\d[\w.\-]*$", "", jar.stem)


@lru_cache(maxsize=2)
def ensure(cache: Path) -> Runtime:
    """The quality runtime, installed on first use (progress on stderr)."""
    venv = _venv(cache)
    libs = artifacts.maven_dependencies(cache, f"quality-jars-{lock_hash()}", JARS,
                                        exclusions=EXCLUSIONS)
    python = venv / "bin" / "python"
    shipped_dir = Path(subprocess.run(
        [str(python), "-c", "import pyspark, os; print(os.path.dirname(pyspark.__file__))"],
        capture_output=True, text=True, check=True).stdout.strip()) / "jars"
    # Only what the pyspark wheel lacks: Deequ's pom drags Spark itself in.
    shipped = {_artifact_name(j) for j in shipped_dir.glob("*.jar")}
    jars = tuple(sorted(str(j) for j in libs.glob("*.jar") if _artifact_name(j) not in shipped))
    return Runtime(python, jars)


def install(settings: Settings) -> Runtime:
    """For `txlake stack install` / CI: fetch everything now rather than on first use."""
    return ensure(settings.cache)
