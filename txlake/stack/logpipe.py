"""Copy a service's output from stdin into a size-bounded, rotated log file.

Services of the native stack log to stdout; left alone their logs grow
without bound. This reader keeps `<log>` under --max-bytes and the last
--backups rotated copies (`<log>.1` newest), so a week-long stack cannot fill
the disk with logs. Runs as its own process: `python -m txlake.stack.logpipe`.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path


class RotatingLog:
    def __init__(self, path: Path, max_bytes: int, backups: int) -> None:
        self.path, self.max_bytes, self.backups = path, max_bytes, backups
        self.file = open(path, "ab", buffering=0)  # noqa: SIM115 - kept open for the process' life
        self.size = self.file.tell()

    def write(self, data: bytes) -> None:
        """Append whole lines, rotating before a line that would overflow the file."""
        batch: list[bytes] = []
        batch_size = 0
        for line in data.splitlines(keepends=True):
            if self.size + batch_size + len(line) > self.max_bytes and self.size + batch_size:
                self._append(b"".join(batch))
                batch, batch_size = [], 0
                self.rotate()
            batch.append(line)
            batch_size += len(line)
        self._append(b"".join(batch))

    def _append(self, data: bytes) -> None:
        if data:
            self.file.write(data)
            self.size += len(data)

    def rotate(self) -> None:
        self.file.close()
        for index in range(self.backups - 1, 0, -1):
            older = self.path.with_name(f"{self.path.name}.{index}")
            if older.exists():
                older.replace(self.path.with_name(f"{self.path.name}.{index + 1}"))
        if self.backups > 0:
            self.path.replace(self.path.with_name(f"{self.path.name}.1"))
        else:
            self.path.unlink(missing_ok=True)
        self.file = open(self.path, "ab", buffering=0)  # noqa: SIM115
        self.size = 0


def pump(source: int, log: RotatingLog) -> None:
    pending = b""
    while True:
        chunk = os.read(source, 65536)
        if not chunk:
            break
        # Rotate only at line ends, so no line is split across two files.
        pending += chunk
        cut = pending.rfind(b"\n") + 1
        if cut:
            log.write(pending[:cut])
            pending = pending[cut:]
        elif len(pending) > 65536:
            log.write(pending)
            pending = b""
    if pending:
        log.write(pending)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("path", type=Path)
    parser.add_argument("--max-bytes", type=int, default=10 * 1024 * 1024)
    parser.add_argument("--backups", type=int, default=3)
    args = parser.parse_args(argv)
    # The service decides when logging ends (EOF on the pipe); a stray Ctrl-C
    # in the terminal that started the stack must not cut its log short.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    pump(sys.stdin.fileno(), RotatingLog(args.path, args.max_bytes, args.backups))
    return 0


if __name__ == "__main__":
    sys.exit(main())
