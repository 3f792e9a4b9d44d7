"""`txlake maintain`: OPTIMIZE and VACUUM the lake tables."""

from __future__ import annotations

import json

import click

from txlake.settings import get_settings


@click.command()
@click.option("--retention-hours", type=float, default=168, show_default=True,
              help="VACUUM keeps files any version of the last N hours needs (at least 168).")
@click.option("--json", "as_json", is_flag=True, help="Print per-table figures as JSON.")
def maintain(retention_hours: float, as_json: bool) -> None:
    """Compact small files (OPTIMIZE) and delete unneeded old ones (VACUUM).

    Runs table by table, each under its lake lock, so ingest waits at most
    for one table. Time travel and silver's change data feed reach back no
    further than the retention afterwards; the features job recomputes
    everything it has if its previous run is older than that.
    """
    from txlake.artifacts import say
    from txlake.lake.maintenance import as_dicts, check_retention
    from txlake.lake.maintenance import maintain as run
    from txlake.lake.spark import session

    check_retention(retention_hours)  # before Spark starts
    settings = get_settings()
    results = run(session(settings, "txlake-maintain"), settings, retention_hours,
                  progress=lambda line: say(f"maintain: {line}"))
    if as_json:
        click.echo(json.dumps(as_dicts(results), indent=2))
    else:
        click.echo(f"maintained {len(results)} table(s)")
