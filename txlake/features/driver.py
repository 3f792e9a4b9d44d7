"""A warm Spark driver for `txlake features`: one long-lived Spark session that
runs feature jobs handed to it over HTTP.

Each Airflow task is a process of its own. Started cold, a features run pays
the JVM's start (~10 s) and then runs its plans in code the JIT has not
compiled yet: the weekly combine costs ~3 s more the first time in a JVM than
the next. The driver keeps one session for the life of the stack, so a daily
run finds the JVM started and a weekly run finds last week's combine compiled.

Protocol (loopback or a private network; it carries no secrets):
- `GET /health`: `{"status": "ok", "runs": n, "busy": bool}`.
- `POST /features` with `{"as_of": ["YYYY-MM-DD", ...], "days": [...]}`: the
  run's progress lines, then its summary, as JSON lines:
  `{"say": "..."}` ... then `{"result": {...}}` or `{"error": "...", "exit_code": n}`.
Jobs run one at a time, in arrival order; each takes the lake lock as it would
in its own process.
"""

from __future__ import annotations

import json
import sys
import threading
import traceback
from collections.abc import Callable, Iterator
from datetime import date
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from txlake import artifacts
from txlake.errors import TxlakeError
from txlake.settings import Settings

HEALTH = "/health"
FEATURES = "/features"


class DriverError(TxlakeError):
    """The driver could not be reached, or broke off a job."""


# -- the client side ----------------------------------------------------------


def run_features(settings: Settings, as_of: list[date], days: list[date]) -> dict:
    """Run `txlake features` on the warm driver; its progress lines are said here."""
    import requests

    url = settings.features_driver_url + FEATURES
    body = {"as_of": [d.isoformat() for d in as_of], "days": [d.isoformat() for d in days]}
    try:
        # No read timeout: a backfill of many weeks may run for long; the
        # connection stays open and carries a line per step meanwhile.
        with requests.post(url, json=body, stream=True, timeout=(5, None)) as response:
            if response.status_code != HTTPStatus.OK:
                raise DriverError(f"features driver at {settings.features_driver_url} answered "
                                  f"{response.status_code}: {response.text.strip()[:200]}")
            return _follow(response.iter_lines(decode_unicode=True), settings)
    except requests.ConnectionError as error:
        reason = str(error.__context__ or error).splitlines()[0][:120]
        raise DriverError(
            f"features driver at {settings.features_driver_url} does not answer ({reason}); "
            "start it with `txlake stack up` (see `txlake stack status` for its log), "
            "or run the job in this process with --local") from None


def _follow(lines: Iterator[str], settings: Settings) -> dict:
    for line in lines:
        if not line:
            continue
        message = json.loads(line)
        if "say" in message:
            artifacts.say(message["say"])
        elif "result" in message:
            return message["result"]
        elif "error" in message:
            error = TxlakeError(message["error"])
            error.exit_code = int(message.get("exit_code", 1))
            raise error
    raise DriverError(f"features driver at {settings.features_driver_url} ended the job "
                      "without a result (did it stop?); see its log")


# -- the server side ----------------------------------------------------------


class Driver:
    """The warm session and the one-job-at-a-time rule."""

    def __init__(self, settings: Settings) -> None:
        from txlake.lake.spark import session

        self.settings = settings
        self.spark = session(settings, "txlake-features-driver")
        self.runs = 0
        self._turn = threading.Lock()

    @property
    def busy(self) -> bool:
        return self._turn.locked()

    def spark_alive(self) -> bool:
        """Whether the session's JVM still answers (one py4j round trip): a
        driver whose JVM died must not look healthy."""
        try:
            return not self.spark.sparkContext._jsc.sc().isStopped()
        except Exception:  # noqa: BLE001 - any failure to ask means it is gone
            return False

    def features(self, as_of: list[date], days: list[date], emit: Callable[[dict], None]) -> None:
        from txlake.features import run

        with self._turn, artifacts.said_to(lambda text: emit({"say": text})):
            try:
                result = run(self.spark, self.settings, as_of, days=days).as_dict()
            except TxlakeError as error:
                emit({"error": str(error), "exit_code": error.exit_code})
                return
            except Exception as error:  # reported to the caller, kept in the driver's log
                traceback.print_exc()
                first = (str(error).strip().splitlines() or [""])[0][:300]
                emit({"error": f"features driver: {type(error).__name__}: {first} "
                               "(the traceback is in the driver's log)", "exit_code": 1})
                return
            finally:
                self.runs += 1
        emit({"result": result})


def _dates(body: dict, key: str) -> list[date]:
    values = body.get(key, [])
    if not isinstance(values, list):
        raise ValueError(f"{key!r} must be a list of YYYY-MM-DD dates")
    return [date.fromisoformat(v) for v in values]


def _handler(driver: Driver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            if self.path != HEALTH:
                self._reply(HTTPStatus.NOT_FOUND, {"error": f"no such path {self.path}"})
                return
            if not driver.spark_alive():
                self._reply(HTTPStatus.SERVICE_UNAVAILABLE, {"status": "Spark session is gone"})
                return
            self._reply(HTTPStatus.OK, {"status": "ok", "runs": driver.runs, "busy": driver.busy})

        def do_POST(self) -> None:  # noqa: N802
            if self.path != FEATURES:
                self._reply(HTTPStatus.NOT_FOUND, {"error": f"no such path {self.path}"})
                return
            try:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                as_of, days = _dates(body, "as_of"), _dates(body, "days")
            except (ValueError, TypeError, AttributeError) as error:
                self._reply(HTTPStatus.BAD_REQUEST, {"error": f"bad request: {error}"})
                return
            self.send_response(HTTPStatus.OK)
            self.send_header("Content-Type", "application/x-ndjson")
            self.send_header("Connection", "close")
            self.end_headers()
            self.close_connection = True

            gone = []

            def emit(message: dict) -> None:
                # A caller that went away (its Airflow task was killed, say)
                # does not stop the job halfway: it runs to its end, logged here.
                if gone:
                    return
                try:
                    self.wfile.write(json.dumps(message).encode() + b"\n")
                    self.wfile.flush()
                except OSError as error:
                    gone.append(error)
                    print(f"[txlake] features driver: the caller went away ({error}); "
                          "the job goes on", file=sys.stderr, flush=True)

            driver.features(as_of, days, emit)

        def _reply(self, status: HTTPStatus, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args) -> None:  # noqa: A002 - the base's signature
            artifacts.say(f"features driver: {self.address_string()} {format % args}")

    return Handler


# How often the driver checks that its Spark JVM is still there.
WATCH_SECONDS = 5.0


def _watch(driver: Driver, server: ThreadingHTTPServer, stopping: threading.Event,
           jvm_gone: threading.Event) -> None:
    """End the server once Spark's JVM is gone (killed, out of memory): a
    driver that can run no job must not outlive its JVM looking alive. Its
    process then exits, and `txlake stack up` (or compose's restart policy)
    starts a new one."""
    while not stopping.wait(WATCH_SECONDS):
        # Asked again after the JVM stopped answering: a driver being stopped
        # ends its own JVM, which is no death to report.
        if not driver.spark_alive() and not stopping.is_set():
            jvm_gone.set()
            artifacts.say("features driver: Spark's JVM is gone; stopping so that a new "
                          "driver can be started")
            server.shutdown()
            return


def serve(settings: Settings, host: str, port: int) -> None:
    """Start the session, then serve until SIGTERM or Ctrl-C (the running job
    finishes first) or until the Spark JVM is gone; the JVM ends with the server."""
    import signal

    from txlake.lake.spark import stop_session

    driver = Driver(settings)
    server = ThreadingHTTPServer((host, port), _handler(driver))
    server.daemon_threads = True
    stopping, jvm_gone = threading.Event(), threading.Event()
    threading.Thread(target=_watch, args=(driver, server, stopping, jvm_gone), daemon=True).start()

    def stop(signum, frame) -> None:
        artifacts.say("features driver: stopping after the running job ...")
        # shutdown() waits for serve_forever to return: not from its own thread.
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    artifacts.say(f"features driver: serving on http://{host}:{port} "
                  f"(Spark {driver.spark.version}, app {driver.spark.sparkContext.applicationId})")
    try:
        server.serve_forever()
    finally:
        server.server_close()
        died = jvm_gone.is_set()
        stopping.set()
        if not died:
            with driver._turn:  # a job still running ends before its session does
                stop_session()
        artifacts.say("features driver: stopped")
    if died:
        raise DriverError("features driver: Spark's JVM ended unexpectedly (its last words are "
                          "above in this log); `txlake stack up` starts a new driver")

