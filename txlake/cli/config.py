"""`txlake config`: the resolved settings."""

from __future__ import annotations

import json

import click

from txlake.settings import env_file_path, get_settings


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print one flat JSON object, credentials included.")
def config(as_json: bool) -> None:
    """Show the resolved settings (environment > .env > defaults).

    The plain listing masks secrets. --json prints every value, credentials
    included, because a script that asks for them needs them (as
    `docker compose config` does).
    """
    settings = get_settings()
    if as_json:
        click.echo(json.dumps(settings.as_env(reveal=True), indent=2, sort_keys=True))
        return
    click.echo(f"# from the environment and {env_file_path()}")
    for name, value in sorted(settings.as_env(reveal=False).items()):
        click.echo(f"{name}={value}")
