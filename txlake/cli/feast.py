"""`txlake feast apply|materialize|online`: the Feast repo in feature_store/."""

from __future__ import annotations

import json

import click

from txlake.settings import get_settings


@click.group()
def feast() -> None:
    """Serve the weekly features through Feast (repo: feature_store/).

    \b
    Entity `user` (join key user_id); feature views:
      user_weekly_features  the seven *_l1w features of the gold table
                            lakehouse.project.features; a row stamped Monday D
                            covers [D-7d, D) and serves entity times in
                            [D, D+7d) (TTL 7 days), never before D
      customer_profile      age, gender, location, occupation from silver customers
    \b
    Online store: FEAST_ONLINE_STORE=sqlite (default; a file under
    TXLAKE_HOME/feast) or postgres (database FEAST_POSTGRES_DB on the stack's
    PostgreSQL). The registry lives in TXLAKE_HOME/feast too, so
    `txlake stack down --volumes` wipes both.
    \b
    The plain Feast CLI and SDK work on the same repo once the settings are in
    the environment:  set -a; . ./.env; set +a; feast -c feature_store feature-views list
    """


@feast.command()
@click.option("--json", "as_json", is_flag=True, help="Print what was registered as JSON.")
def apply(as_json: bool) -> None:
    """Register the definitions of feature_store/ and create the online tables.

    With FEAST_ONLINE_STORE=postgres it first creates the database
    FEAST_POSTGRES_DB if missing. Safe to re-run.
    """
    from txlake.feast import ops

    result = ops.apply(get_settings())
    if as_json:
        click.echo(json.dumps(result, indent=2))
    else:
        click.echo(f"feast: applied entity user and {', '.join(result['feature_views'])} "
                   f"(online store {result['online_store']}, registry {result['registry']})")


@feast.command()
@click.option("--start", required=True, metavar="YYYY-MM-DD", help="First day of the window (00:00 UTC).")
@click.option("--end", required=True, metavar="YYYY-MM-DD",
              help="Last instant of the window: this day 00:00 UTC, included.")
@click.option("--json", "as_json", is_flag=True, help="Print the run as JSON.")
def materialize(start: str, end: str, as_json: bool) -> None:
    """Load the newest feature row per user stamped in [START, END] into the online store.

    \b
    The window is given, not taken from the clock, so the weekly DAG's run for
    logical date D materializes its own week (--start D-7d --end D), backfills
    included. Idempotent: the same window twice changes nothing, and an older
    window never overwrites newer online values (the newest event time wins).
    Registers the feature repo first (`txlake feast apply`) if it is not yet.
    Example:  txlake feast materialize --start 2025-01-06 --end 2025-01-13
    """
    from txlake.feast import ops

    result = ops.materialize(get_settings(), ops.parse_day(start, "--start"), ops.parse_day(end, "--end"))
    if as_json:
        click.echo(json.dumps(result, indent=2))
    else:
        click.echo(f"feast: materialized {', '.join(result['feature_views'])} for "
                   f"[{result['start']}, {result['end']}] into {result['online_store']} "
                   f"in {result['seconds']:.1f}s")


@feast.command()
@click.option("--user", "users", multiple=True, required=True, metavar="USER_ID",
              help="A user id; repeat for several.")
def online(users: tuple[str, ...]) -> None:
    """Print the online features of some users as JSON (a quick look; null = no value)."""
    from txlake.feast import ops

    click.echo(json.dumps(ops.online(get_settings(), list(users)), indent=2, default=str))
