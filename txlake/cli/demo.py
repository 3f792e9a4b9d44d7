"""`txlake demo`: the main job, the whole flow in one command."""

from __future__ import annotations

import json
import sys

import click

from txlake.settings import get_settings


@click.command()
@click.option("--days", default=3, show_default=True, help="Days of transactions to generate.")
@click.option("--customers", default=2000, show_default=True, help="Customers to create.")
@click.option("--per-day", default=20000, show_default=True, help="Transactions per day.")
@click.option("--seed", default=42, show_default=True, help="Seed: same seed, same data.")
@click.option("--keep/--down", default=True, show_default=True,
              help="Leave the stack running for exploring, or stop it at the end.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def demo(days: int, customers: int, per_day: int, seed: int, keep: bool, as_json: bool) -> None:
    """Run the whole flow end to end on the native stack and print a report.

    \b
    Starts the stack, creates customers, then for each of the last --days days
    generates that day's transactions (with corrections, cancellations and
    late arrivals) and ingests them into the lake, exactly as the daily DAG
    does; reconciles source and lake; prints rows per layer, the reconcile
    verdict, the week's top spenders (from Trino) and where each UI is.
    Exits 1 if the lake does not equal the source.
    """
    from txlake import demo as job

    report = job.run(get_settings(), days=days, customers=customers, seed=seed,
                     per_day=per_day, down=not keep)
    if as_json:
        click.echo(json.dumps(report.__dict__, indent=2, default=str))
    else:
        _print(report)
    if not report.reconcile.get("clean"):
        sys.exit(1)


def _print(report) -> None:
    click.echo(f"\ntxlake demo: {len(report.days)} day(s) in {report.seconds:.0f}s\n")
    click.echo("rows per lake table (lakehouse.project.*):")
    for table, rows in report.layers.items():
        click.echo(f"  {table:<24} {rows:>10,}")
    verdict = "clean: the lake equals the source" if report.reconcile["clean"] else "DIFFERENT"
    click.echo(f"\nreconcile: {verdict} (dead letters: {report.reconcile['dead_letters']})")
    for table in report.reconcile["tables"]:
        click.echo(f"  {table['table']:<14} source {table['source_rows']:>8,}  "
                   f"lake {table['lake_rows']:>8,}")
    click.echo("\ntop 5 spenders of the last 7 days (Trino):")
    for user, spent in report.top_spenders:
        click.echo(f"  {user:<10} {spent:>12}")
    click.echo("\nexplore:")
    for name, url in report.urls.items():
        click.echo(f"  {name:<20} {url}")
