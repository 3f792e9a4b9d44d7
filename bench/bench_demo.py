"""Benchmark `txlake demo`: wall time with defaults and peak memory of everything it runs.

    .venv/bin/python bench/bench_demo.py [--keep-state] [-- demo options...]

Uses its own state directory (.txlake-bench/), wiped first unless
--keep-state, so the demo meets a fresh stack as on a new machine (downloads
stay cached). Every second it sums the resident memory of the stack's
services (from `txlake stack status`) and of the demo process with all its
children (Spark, the quality runtime, ...). Stops the stack at the end.
Another stack must not be running (the ports are the same).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
os.environ["TXLAKE_HOME"] = str(ROOT / ".txlake-bench")

import psutil  # noqa: E402
from report import print_table  # noqa: E402

from txlake.settings import get_settings  # noqa: E402
from txlake.stack import manager  # noqa: E402

GIB = 1024 ** 3


def tree(pid: int) -> list[psutil.Process]:
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def tree_rss(pid: int, exclude: set[int]) -> dict[str, int]:
    """Resident bytes of a process and its children, by kind of process, less
    the processes in `exclude` (the stack's services, which the demo starts
    as its children and which are counted as services)."""
    kinds: dict[str, int] = {}
    for proc in tree(pid):
        if proc.pid in exclude:
            continue
        try:
            kind = _kind(proc)
            kinds[kind] = kinds.get(kind, 0) + proc.memory_info().rss
        except psutil.NoSuchProcess:
            pass
    return kinds


def _kind(proc: psutil.Process) -> str:
    """`java (quality runtime)`, `python (demo)`, ...: enough to tell which
    step's process holds the memory at the peak."""
    cmdline = " ".join(proc.cmdline())
    where = "quality runtime" if "quality" in cmdline or "runtimes" in cmdline else "demo"
    return f"{proc.name()} ({where})"


class PeakMemory(threading.Thread):
    def __init__(self, settings, demo_pid: int) -> None:
        super().__init__(daemon=True)
        self.settings, self.demo_pid = settings, demo_pid
        self.peak = self.peak_stack = self.peak_demo = 0
        self.at_peak: dict[str, int] = {}
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(1.0):
            rows = manager.status(self.settings)
            services = {row["name"]: row.get("rss_bytes") or 0 for row in rows}
            in_stack = {p.pid for row in rows if row.get("pid") for p in tree(row["pid"])}
            kinds = tree_rss(self.demo_pid, exclude=in_stack)
            stack, demo = sum(services.values()), sum(kinds.values())
            self.peak_stack = max(self.peak_stack, stack)
            self.peak_demo = max(self.peak_demo, demo)
            if stack + demo > self.peak:
                self.peak = stack + demo
                self.at_peak = {**services, **kinds}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keep-state", action="store_true", help="Do not wipe .txlake-bench first.")
    parser.add_argument("demo_args", nargs="*", help="Options passed to `txlake demo`.")
    args = parser.parse_args()
    settings = get_settings()
    if not args.keep_state:
        manager.down(settings, volumes=True)
    started = time.monotonic()
    demo = subprocess.Popen([sys.executable, "-m", "txlake", "demo", "--json", *args.demo_args],
                            stdout=subprocess.PIPE, text=True)
    sampler = PeakMemory(settings, demo.pid)
    sampler.start()
    out, _ = demo.communicate()
    wall = time.monotonic() - started
    sampler.done.set()
    sampler.join()
    manager.down(settings)
    if demo.returncode != 0:
        print(f"txlake demo failed with exit code {demo.returncode}", file=sys.stderr)
        return 1
    report = json.loads(out)
    rows = [("txlake demo wall time (" + (" ".join(args.demo_args) or "defaults") + ")",
             f"{wall:.0f} s"),
            *((f"  step: {name}", f"{seconds:.0f} s") for name, seconds in report["timings"].items()),
            ("peak memory, stack + demo", f"{sampler.peak / GIB:.2f} GiB"),
            ("  peak of the stack's services", f"{sampler.peak_stack / GIB:.2f} GiB"),
            ("  peak of the demo process tree", f"{sampler.peak_demo / GIB:.2f} GiB"),
            *((f"  at the peak: {name}", f"{rss / GIB:.2f} GiB")
              for name, rss in sorted(sampler.at_peak.items(), key=lambda kv: -kv[1])),
            ("reconcile clean / quality passed",
             f"{report['reconcile']['clean']} / {report['quality']['passed']}")]
    print_table(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
