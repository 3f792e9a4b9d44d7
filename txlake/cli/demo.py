"""`txlake demo`: the main job, the whole flow in one command."""

from __future__ import annotations

import contextlib
import json
import sys

import click

from txlake.settings import get_settings


@click.command()
@click.option("--days", default=14, show_default=True,
              help="Days of transactions to generate, ending yesterday (UTC).")
@click.option("--customers", default=2000, show_default=True, help="Customers to create.")
@click.option("--per-day", default=10000, show_default=True, help="Transactions per day.")
@click.option("--seed", default=42, show_default=True, help="Seed: same seed, same data.")
@click.option("--keep/--down", default=True, show_default=True,
              help="Leave the stack running for exploring, or stop it at the end.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def demo(days: int, customers: int, per_day: int, seed: int, keep: bool, as_json: bool) -> None:
    """Run the whole flow end to end on the native stack and print a report.

    \b
    1. starts the stack (PostgreSQL, Kafka + Debezium, MinIO, Trino, Airflow),
    2. creates customers, then for each of the last --days days generates the
       day's transactions (with corrections, cancellations and late arrivals)
       and ingests them into the lake, as the daily DAG does,
    3. computes the weekly features as of each Monday in that range, as the
       weekly DAG does, runs the data-quality checks and reconciles source
       and lake, row by row,
    4. registers the Feast repo and materializes the weeks to the online store,
    5. prints rows per layer, the verdicts, the last week's top 5 spenders
       (gold, through Trino), the top spender's online features (Feast) and
       where each UI is.

    Days already generated are skipped, so a second run only adds what is
    new. Exits 1 if the lake does not equal the source or a critical quality
    check fails.
    """
    from txlake import demo as job

    # With --json, stdout carries the report alone: whatever a library prints
    # on the way (Feast's progress, say) goes to stderr with txlake's own.
    with contextlib.redirect_stdout(sys.stderr) if as_json else contextlib.nullcontext():
        report = job.run(get_settings(), days=days, customers=customers, seed=seed,
                         per_day=per_day, down=not keep)
    if as_json:
        click.echo(json.dumps(report.__dict__, indent=2, default=str))
    else:
        _print(report)
    if not report.ok:
        sys.exit(1)


def _print(report) -> None:
    echo = click.echo
    echo(f"\ntxlake demo: {len(report.days)} day(s), {len(report.weeks)} week(s) "
         f"in {report.seconds:.0f}s")
    echo("  time per step: " + ", ".join(f"{k} {v:.0f}s" for k, v in report.timings.items()))
    echo("\nrows per lake table (lakehouse.project.*):")
    for table, rows in report.layers.items():
        echo(f"  {table:<24} {rows:>10,}")
    verdict = "clean: the lake equals the source" if report.reconcile["clean"] else "DIFFERENT"
    echo(f"\nreconcile: {verdict} (dead letters: {report.reconcile['dead_letters']})")
    for table in report.reconcile["tables"]:
        echo(f"  {table['table']:<14} source {table['source_rows']:>8,}  "
             f"lake {table['lake_rows']:>8,}")
    results = report.quality.get("results", [])
    passed = sum(1 for r in results if r["status"] == "passed")
    echo(f"\nquality: {passed}/{len(results)} check(s) passed"
         + ("" if report.quality.get("passed") else " - CRITICAL CHECK FAILED"))
    for result in results:
        if result["status"] != "passed":
            echo(f"  {result['severity']:<8} {result['check']}: {result['message']}")
    if report.weeks:
        echo(f"\ntop 5 spenders of the week before {report.weeks[-1]} (gold, via Trino):")
        for user, spent in report.top_spenders:
            echo(f"  {user:<10} {spent:>12}")
    if report.online_features:
        echo("\nonline features of the top spender (Feast):")
        for name, value in report.online_features.items():
            echo(f"  {name:<22} {value}")
    echo("\nexplore:")
    for name, url in report.urls.items():
        echo(f"  {name:<20} {url}")
