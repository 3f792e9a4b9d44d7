"""`txlake ingest`, `txlake stream`, `txlake reconcile`: change data into the lake."""

from __future__ import annotations

import json
import sys

import click

from txlake.settings import get_settings


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the run's figures as JSON.")
def ingest(as_json: bool) -> None:
    """Apply every change committed in the source so far to the lake, then stop.

    \b
    1. Waits until Kafka holds every change committed before the command
       started (a watermark row travels the CDC path; no sleeps).
    2. Reads the CDC topics from where the last run stopped (Spark checkpoint
       on the object store) and, per micro-batch:
       - appends every event to bronze (<table>_changelog),
       - writes the newest change per key (by LSN) to silver (<table>):
         appended when the key is new to silver, MERGEd otherwise,
       - parks undecodable events in cdc_dead_letters with the reason.
    Safe to re-run and to kill at any point: a restarted run finishes the job
    with no duplicates. Holds the lake lock of these tables while it runs.
    """
    from txlake.cdc import ingest as job

    result = job.run(get_settings())
    _report(result.as_dict(), as_json)


@click.command()
def stream() -> None:
    """Like `ingest`, but keeps running: a micro-batch every STREAM_TRIGGER_SECONDS.

    Stops cleanly after the running batch on Ctrl-C or SIGTERM (a second one
    stops at once; the interrupted batch is applied by the next run).
    """
    from txlake.cdc import ingest as job

    result = job.run(get_settings(), continuous=True)
    _report(result.as_dict(), False)


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the comparison as JSON.")
@click.option("--limit", default=10, show_default=True, help="Keys listed per kind of difference.")
def reconcile(as_json: bool, limit: int) -> None:
    """Compare the source tables with the lake's silver tables, row by row.

    Exits 1 when any key is missing, extra or has different values. Dead
    letters (events ingest could not apply) are counted and shown.
    """
    from txlake.cdc.reconcile import reconcile as compare
    from txlake.lake.spark import session

    settings = get_settings()
    report = compare(session(settings, "txlake-reconcile"), settings, limit)
    if as_json:
        click.echo(json.dumps(report, indent=2))
    else:
        for table in report["tables"]:
            verdict = "clean" if table["clean"] else "DIFFERENT"
            click.echo(f"{table['table']:<14} source {table['source_rows']:>10,}  "
                       f"lake {table['lake_rows']:>10,}  {verdict}")
            for kind in ("missing_in_lake", "extra_in_lake", "different"):
                count = table[kind.replace("_in_lake", "") + "_count"]
                if count:
                    click.echo(f"  {kind}: {count:,} (e.g. {', '.join(table[kind])})")
        click.echo(f"dead letters: {report['dead_letters']:,}")
    if not report["clean"]:
        sys.exit(1)


def _report(figures: dict, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(figures, indent=2))
        return
    changes = ", ".join(f"{n:,} {t}" for t, n in sorted(figures["changes"].items())) or "none"
    click.echo(f"applied {changes} change(s) in {figures['batches']} batch(es), "
               f"{figures['dead_letters']:,} dead letter(s), {figures['seconds']:.1f}s")
