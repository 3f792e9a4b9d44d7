"""`txlake stack ...`: start, stop and inspect the native stack."""

from __future__ import annotations

import json
import sys
import time
from collections import deque

import click

from txlake.settings import get_settings


def _fmt_bytes(value: int | None) -> str:
    return "-" if value is None else f"{value / 2**20:.0f} MiB"


def _print_table(rows: list[dict]) -> None:
    click.echo(f"{'SERVICE':<21} {'HEALTH':<10} {'PID':>8} {'MEMORY':>9}  ENDPOINT")
    for row in rows:
        health = "healthy" if row["healthy"] else "DOWN"
        pid = str(row["pid"]) if row["pid"] else "-"
        click.echo(f"{row['name']:<21} {health:<10} {pid:>8} {_fmt_bytes(row['rss_bytes']):>9}  "
                   f"{row['endpoint']}")
        for slot in row.get("slots", []):
            click.echo(f"{'':<21} slot {slot['slot']}: active={slot['active']} "
                       f"wal_status={slot['wal_status']} lag={_fmt_bytes(slot['lag_bytes'])}")
            if slot["wal_status"] == "lost":
                click.echo(f"{'':<21} LOST: changes in removed WAL never reached Kafka; "
                           "ingest refuses to run (README: \"A lost replication slot\")")
        if "connector" in row:
            c = row["connector"]
            tasks = ", ".join(f"task {t['id']} {t['state']}" for t in c.get("tasks", []))
            click.echo(f"{'':<21} connector {c.get('name', '?')}: {c.get('state', c.get('error'))}"
                       f"{' (' + tasks + ')' if tasks else ''}")
        if row.get("dead_letters"):
            click.echo(f"{'':<21} lake: {row['dead_letters']:,} dead letter(s) in "
                       "lakehouse.project.cdc_dead_letters (see txlake reconcile)")
        if not row["healthy"] and row["log"]:
            click.echo(f"{'':<21} log: {row['log']}")


@click.group()
def stack() -> None:
    """Run the services as local processes (no Docker needed).

    \b
    PostgreSQL (Debian package), Kafka and Kafka Connect with Debezium and
    Trino (Maven Central) and MinIO (built from its Go module) are installed into the cache
    (TXLAKE_CACHE) on first use and run from the state directory (TXLAKE_HOME).
    The compose file in docker_all/ runs the same services for Docker users.
    """


@stack.command()
@click.option("--json", "as_json", is_flag=True, help="Print the final status as JSON.")
def up(as_json: bool) -> None:
    """Start every service that is not running and wait until all are healthy.

    Returns once PostgreSQL has the source schema, the bucket exists, both CDC
    topics exist and the Debezium connector runs. Safe to run again: healthy
    services are left alone, dead ones (or a failed connector task) restarted.
    The first run downloads and builds the services (several minutes).
    """
    from txlake.stack import manager

    rows = manager.up(get_settings())
    if as_json:
        click.echo(json.dumps(rows, indent=2))
    else:
        _print_table(rows)


@stack.command()
def install() -> None:
    """Download and build the services into the cache without starting them.

    `up` does this itself; run it alone to prepare a machine (CI, an image).
    """
    from txlake.stack import manager

    manager.install(get_settings())


@stack.command()
@click.option("--volumes", is_flag=True,
              help="Also delete all data, logs, checkpoints and registries of the stack "
                   "(keeps .env and the download cache).")
def down(volumes: bool) -> None:
    """Stop the processes this stack started (by their recorded PIDs)."""
    from txlake.stack import manager

    stopped = manager.down(get_settings(), volumes=volumes)
    if not stopped:
        click.echo("nothing was running", err=True)


@stack.command()
@click.option("--json", "as_json", is_flag=True,
              help="One JSON object per service: name, healthy, endpoint, log, pid, ...")
def status(as_json: bool) -> None:
    """Show each service, its endpoint and whether it is healthy.

    Exits 1 when any service is down. PostgreSQL's row shows each replication
    slot's lag (WAL held back for Debezium); the connect row the connector state.
    """
    from txlake.stack import manager

    rows = manager.status(get_settings())
    if as_json:
        click.echo(json.dumps(rows, indent=2))
    else:
        _print_table(rows)
    if not all(row["healthy"] for row in rows):
        sys.exit(1)


@stack.command()
@click.argument("service")
@click.option("-n", "--lines", default=50, show_default=True, help="How many lines to show.")
@click.option("-f", "--follow", is_flag=True, help="Keep printing new lines (Ctrl-C to stop).")
def logs(service: str, lines: int, follow: bool) -> None:
    """Print the end of a service's log (postgres, kafka, connect, minio, trino)."""
    from txlake.errors import TxlakeError
    from txlake.stack import manager
    from txlake.stack.service import Context

    ctx = Context(get_settings())
    path = manager.service_named(service).log_path(ctx)
    if not path.exists():
        raise TxlakeError(f"{service}: no log at {path} (has the stack been started?)")
    with open(path, errors="replace") as log:
        for line in deque(log, maxlen=lines):
            click.echo(line, nl=False)
        while follow:
            line = log.readline()
            if line:
                click.echo(line, nl=False)
            else:
                time.sleep(0.5)


@stack.command()
def init() -> None:
    """Configure a running stack through its endpoints (what the compose init runs).

    Applies the source schema, Debezium's grants and publication, creates the
    lake bucket and the CDC topics, registers the connector and waits for it.
    """
    from txlake.stack import bootstrap

    bootstrap.initialize(get_settings())
    click.echo("stack initialized", err=True)
