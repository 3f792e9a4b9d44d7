"""`txlake quality`: data-quality gates on silver and gold."""

from __future__ import annotations

import json

import click

from txlake.cli.features import _day
from txlake.settings import get_settings


@click.command()
@click.option("--layer", type=click.Choice(["silver", "gold", "all"]), default="all", show_default=True,
              help="Which tables to check: silver (transactions, customers), gold (features).")
@click.option("--as-of", "as_of", callback=_day, metavar="YYYY-MM-DD",
              help="Check only the week as of D: silver transactions in [D-7d, D), gold rows of D.")
@click.option("--json", "as_json", is_flag=True, help="Print every check's result as JSON.")
def quality(layer: str, as_of, as_json: bool) -> None:
    """Run the Deequ data-quality checks; exit 1 when a critical check fails.

    \b
    silver: keys complete and unique (critical); user and time present;
            amounts within [0, QUALITY_MAX_AMOUNT]; channel in the known set.
    gold:   one row per user and week; counts >= 1; distinct counts <= count;
            min <= avg <= max; feature_timestamp = as_of_date (all critical).
    Every check's status, metric and message is appended to the lake table
    `quality_results` (run_id, run_time, table_name, check_name, severity, ...).
    \b
    The checks run with pydeequ in a separate Spark 3.5 runtime (Deequ has no
    build for the lake's Spark 4.1 on Maven Central), installed into the cache
    on first use (about 900 MB, a few minutes).
    """
    from txlake.errors import TxlakeError
    from txlake.quality.run import run

    report = run(get_settings(), layer, as_of)
    if as_json:
        click.echo(json.dumps(report.as_dict(), indent=2))
    else:
        for r in report.results:
            metric = "" if r["metric"] is None else f"  metric {r['metric']:.4g}"
            click.echo(f"{r['status']:<7} {r['severity']:<8} {r['check']}{metric}"
                       + (f"  ({r['message']})" if r["status"] != "passed" and r["message"] else ""))
        click.echo(f"run {report.run_id}: {len(report.results)} check(s), "
                   f"{len(report.failed_critical)} critical failure(s), {report.seconds:.1f}s")
    if not report.passed:
        raise TxlakeError(report.summary())
