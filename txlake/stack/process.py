"""Start and stop the processes of the native stack by their recorded PIDs.

Every process the stack starts is recorded in `<home>/run/<name>.pid` with its
start time (from /proc), so `stop` signals exactly that process — never a
process found by name, and never a newer process that reused the PID.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

LOG_MAX_BYTES = 10 * 1024 * 1024
LOG_BACKUPS = 3


def _start_ticks(pid: int) -> int | None:
    """The process's start time in clock ticks since boot, or None if it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may contain spaces and parentheses: split after it.
    fields = stat.rsplit(")", 1)[1].split()
    if fields[0] == "Z":  # a zombie has exited; it only waits to be reaped
        return None
    return int(fields[19])


@dataclass(frozen=True)
class Recorded:
    pid: int
    ticks: int

    def alive(self) -> bool:
        return _start_ticks(self.pid) == self.ticks


class PidFile:
    """The record of one started process (and its log writer)."""

    def __init__(self, run_dir: Path, name: str) -> None:
        self.path = run_dir / f"{name}.pid"

    def read(self) -> list[Recorded]:
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return []
        return [Recorded(p["pid"], p["ticks"]) for p in data.get("processes", [])]

    def write(self, pids: list[int], command: list[str]) -> None:
        records = [{"pid": pid, "ticks": _start_ticks(pid)} for pid in pids]
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(json.dumps({"processes": records, "command": command}, indent=1))

    def main(self) -> Recorded | None:
        records = self.read()
        return records[0] if records else None

    def alive(self) -> bool:
        main = self.main()
        return bool(main and main.alive())

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)


def spawn(
    command: list[str],
    *,
    log: Path,
    pidfile: PidFile,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    user: str | None = None,
) -> int:
    """Start a long-running process in its own session, output into a bounded log.

    The service writes to a pipe read by `txlake.stack.logpipe`, which keeps the
    log file under LOG_MAX_BYTES with LOG_BACKUPS rotated copies.
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    writer = subprocess.Popen(
        [sys.executable, "-m", "txlake.stack.logpipe", str(log),
         "--max-bytes", str(LOG_MAX_BYTES), "--backups", str(LOG_BACKUPS)],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=writer.stdin,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=cwd,
            # Drop root's groups too, not only its user id.
            **({"user": user, "group": user, "extra_groups": []} if user else {}),
            start_new_session=True,
        )
    except OSError:
        writer.terminate()
        raise
    assert writer.stdin is not None
    writer.stdin.close()  # the service holds the pipe now; the writer ends when it does
    pidfile.write([process.pid, writer.pid], command)
    return process.pid


def stop(pidfile: PidFile, *, sig: int = signal.SIGTERM, timeout: float = 30.0) -> bool:
    """Stop the recorded process (then its log writer). True if something was stopped."""
    records = pidfile.read()
    stopped = False
    for index, record in enumerate(records):
        if not record.alive():
            continue
        stopped = True
        # The main process gets the service's own clean-shutdown signal; the log
        # writer ends by itself once its pipe closes, SIGTERM only as a fallback.
        if index == 0:
            _signal(record.pid, sig)
        deadline = time.monotonic() + (timeout if index == 0 else 5.0)
        while record.alive() and time.monotonic() < deadline:
            time.sleep(0.1)
        if record.alive():
            if index:
                _signal(record.pid, signal.SIGTERM)
            else:
                _kill_group(record.pid)
            time.sleep(0.2)
        if record.alive():
            _signal(record.pid, signal.SIGKILL)
        # A killed process with a big heap takes a moment to go: "stopped" means gone.
        deadline = time.monotonic() + 10.0
        while record.alive() and time.monotonic() < deadline:
            time.sleep(0.05)
    pidfile.remove()
    return stopped


def _kill_group(pid: int) -> None:
    """SIGKILL a service that ignored its stop signal, with the workers it
    forked: `spawn` made it the leader of a process group of its own, so the
    group holds what txlake started and nothing else."""
    try:
        if os.getpgid(pid) == pid:
            os.killpg(pid, signal.SIGKILL)
            return
    except ProcessLookupError:
        return
    _signal(pid, signal.SIGKILL)


def _signal(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def rss_bytes(pid: int) -> int:
    """Resident memory of one process (0 if it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def tree_rss_bytes(pid: int) -> int:
    """Resident memory of a process and all its descendants (e.g. PostgreSQL backends)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        total += rss_bytes(current)
        todo.extend(children.get(current, []))
    return total
