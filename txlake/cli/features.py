"""`txlake features`: weekly user features into the gold table."""

from __future__ import annotations

import json
from datetime import date

import click

from txlake.settings import get_settings


def _day(ctx, param, value: str | None) -> date | None:
    if value is None:
        return None
    try:
        if len(value) != 10:
            raise ValueError
        return date.fromisoformat(value)
    except ValueError:
        from txlake.errors import TxlakeError

        # One line, like every txlake error (a BadParameter prints the usage too).
        raise TxlakeError(f"{param.opts[0]} expects a date as YYYY-MM-DD (got {value!r})") from None


@click.command()
@click.option("--as-of", "as_of", callback=_day, metavar="YYYY-MM-DD",
              help="Compute the week [D-7d, D) UTC and replace exactly that week's rows.")
@click.option("--from", "first", callback=_day, metavar="YYYY-MM-DD",
              help="Backfill: the first as-of date (with --to).")
@click.option("--to", "last", callback=_day, metavar="YYYY-MM-DD",
              help="Backfill: the last as-of date, included if it falls on the 7-day step.")
@click.option("--stale", is_flag=True,
              help="Only recompute weeks that late changes in silver made stale.")
@click.option("--day", "day", callback=_day, metavar="YYYY-MM-DD",
              help="Aggregate this UTC day into the daily partials now, so the week that "
                   "needs it only combines (the daily DAG's last task); stale weeks are "
                   "recomputed as with --stale.")
@click.option("--local", is_flag=True,
              help="Run in this process's own Spark instead of on the warm features driver "
                   "(FEATURES_DRIVER_URL; empty means always local).")
@click.option("--json", "as_json", is_flag=True, help="Print the run's summary as JSON.")
def features(as_of: date | None, first: date | None, last: date | None, stale: bool,
             day: date | None, local: bool, as_json: bool) -> None:
    """Compute weekly per-user features (gold table `features`) from silver.

    \b
    A week as of D covers the current transactions (latest values, deleted
    ones gone) with transaction_time in [D-7d, D) UTC: one row per user with
    at least one, stamped feature_timestamp = D 00:00 UTC.
    \b
      txlake features --as-of 2026-11-23             one week
      txlake features --from 2026-11-02 --to 2026-11-23
                                                     as-of dates 11-02, 11-09, 11-16, 11-23
                                                     (every 7 days from --from, up to --to)
      txlake features --stale                        only weeks that late changes touched
      txlake features --day 2026-11-22               aggregate one day ahead, plus --stale
    \b
    Late changes: every run first reads silver's change data feed since the
    previous run; each week already in gold that contains a changed
    transaction's day is recomputed in the same run. So a correction that
    lands after its week was computed reaches gold at the next run.
    Re-running a week replaces its rows (no duplicates); identical results
    write nothing. Holds the lake lock of `features` while it writes.
    \b
    Where it runs: on the stack's warm features driver (`txlake
    features-driver`, at FEATURES_DRIVER_URL), whose Spark stays started
    between runs; its progress lines show here. --local (or an empty
    FEATURES_DRIVER_URL) starts a Spark in this process instead.
    """
    from txlake.errors import TxlakeError
    from txlake.features import as_of_range

    if (first is None) != (last is None):
        raise TxlakeError("--from and --to go together")
    if as_of is not None and first is not None:
        raise TxlakeError("give either --as-of or --from/--to, not both")
    if as_of is None and first is None and not stale and day is None:
        raise TxlakeError("give --as-of YYYY-MM-DD, --from/--to, --day YYYY-MM-DD or --stale")
    dates = [as_of] if as_of else as_of_range(first, last) if first else []
    settings = get_settings()
    days = [day] if day else []
    if settings.features_driver_url and not local:
        from txlake.features.driver import run_features

        result = run_features(settings, dates, days)
    else:
        from txlake.features import run
        from txlake.lake.spark import session

        result = run(session(settings, "txlake-features"), settings, dates, days=days).as_dict()
    if as_json:
        click.echo(json.dumps(result, indent=2))
        return
    for week in result["weeks"]:
        click.echo(f"week as of {week['as_of']}: {week['users']:>9,} users  "
                   f"{'written' if week['changed'] else 'unchanged'} ({week['reason']})")
    if not result["weeks"] and not day:
        click.echo("no week to compute (nothing stale)")
    click.echo(f"silver v{result['silver_version']}, {len(result['partial_days'])} day(s) aggregated, "
               f"{len(result['stale_days'])} stale day(s), {result['seconds']:.1f}s")


@click.command("features-driver")
@click.option("--host", default=None, help="Address to listen on (default: FEATURES_DRIVER_URL's host).")
@click.option("--port", type=int, default=None, help="Port (default: FEATURES_DRIVER_PORT).")
def features_driver(host: str | None, port: int | None) -> None:
    """Serve `txlake features` runs from one warm Spark session (the stack starts this).

    \b
    A run in a process of its own pays the JVM's start and runs the weekly
    combine in code not yet compiled; this driver keeps one Spark session
    for as long as it lives. Jobs run one at a time. Stop it with SIGTERM
    or Ctrl-C: the running job finishes first.
    \b
      txlake features-driver                      on FEATURES_DRIVER_URL's host, FEATURES_DRIVER_PORT
      txlake features-driver --host 0.0.0.0       on every interface (in a container)
    """
    from txlake.features.driver import serve

    settings = get_settings()
    serve(settings, host or settings.features_driver_host, port or settings.features_driver_port)
