"""Processes are stopped by their recorded PID, never by name, and logs stay bounded."""

from __future__ import annotations

import subprocess
import sys
import time

from txlake.stack import process
from txlake.stack.logpipe import RotatingLog, pump


def test_spawn_records_the_process_and_stop_ends_it_and_its_log_writer(tmp_path):
    pidfile = process.PidFile(tmp_path / "run", "sleeper")
    log = tmp_path / "logs" / "sleeper.log"

    pid = process.spawn([sys.executable, "-c", "print('hello', flush=True); import time; "
                         "time.sleep(60)"], log=log, pidfile=pidfile)

    records = pidfile.read()
    assert records[0].pid == pid and all(r.alive() for r in records)
    deadline = time.monotonic() + 10
    while not (log.exists() and log.read_text()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert log.read_text() == "hello\n"
    assert process.stop(pidfile, timeout=5) is True
    assert not any(r.alive() for r in records)
    assert not pidfile.path.exists()


def test_stop_spares_a_process_that_merely_reuses_a_recorded_pid(tmp_path):
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        pidfile = process.PidFile(tmp_path, "ghost")
        pidfile.write([bystander.pid], ["ghost"])
        # Same PID, different start time: the recorded process is long gone.
        record = pidfile.read()[0]
        pidfile.path.write_text(pidfile.path.read_text().replace(
            f'"ticks": {record.ticks}', f'"ticks": {record.ticks - 1}'))

        assert process.stop(pidfile, timeout=1) is False
        assert bystander.poll() is None
    finally:
        bystander.kill()
        bystander.wait()


def test_log_rotates_at_line_ends_and_keeps_a_bounded_number_of_files(tmp_path):
    path = tmp_path / "svc.log"
    read_end, write_end = __import__("os").pipe()
    lines = [f"line {i:04d} ".ljust(99, "x") + "\n" for i in range(200)]  # 100 bytes each
    with open(write_end, "w") as out:
        out.writelines(lines)

    pump(read_end, RotatingLog(path, max_bytes=2_000, backups=2))

    files = sorted(tmp_path.iterdir())
    assert [f.name for f in files] == ["svc.log", "svc.log.1", "svc.log.2"]
    assert all(f.stat().st_size <= 2_000 for f in files)
    # The newest lines survive, in order, none split.
    kept = (files[2].read_text() + files[1].read_text() + files[0].read_text()).splitlines(True)
    assert kept == lines[-len(kept):]
