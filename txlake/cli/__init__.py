"""The `txlake` console script: thin command groups over the operations modules."""

from __future__ import annotations

import sys

import click

from txlake import __version__
from txlake.cli.cdc import ingest, reconcile, stream
from txlake.cli.config import config
from txlake.cli.demo import demo
from txlake.cli.feast import feast
from txlake.cli.features import features, features_driver
from txlake.cli.generate import generate
from txlake.cli.maintain import maintain
from txlake.cli.quality import quality
from txlake.cli.stack import stack
from txlake.errors import TxlakeError


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="txlake")
def cli() -> None:
    """txlake: change data capture from PostgreSQL into a Delta lakehouse and a feature store.

    \b
    Start here:
      txlake demo            the whole flow end to end, with a report
      txlake stack up        start PostgreSQL, Kafka, Debezium, MinIO, ... as local processes
      txlake stack status    see what runs where, and whether it is healthy
      txlake config          show the resolved settings (from the environment and .env)
      txlake generate ...    write customers and transactions into the source database
      txlake ingest          apply every committed change to the lake (bronze + silver)
      txlake reconcile       check that the lake equals the source, row for row
      txlake feast ...       publish the weekly features through Feast (apply, materialize)
      txlake features        weekly per-user features (gold) from silver
      txlake quality         data-quality checks on silver and gold (exit 1 on a critical failure)
      txlake maintain        compact and vacuum the lake tables

    Settings come from environment variables and the project's .env file
    (created from .env.example, with generated secrets, on first use).
    """


cli.add_command(config)
cli.add_command(stack)
cli.add_command(generate)
cli.add_command(ingest)
cli.add_command(stream)
cli.add_command(reconcile)
cli.add_command(features)
cli.add_command(features_driver)
cli.add_command(quality)
cli.add_command(maintain)
cli.add_command(demo)
cli.add_command(feast)


def main() -> None:
    try:
        # Without standalone mode click returns a command's exit code instead of exiting.
        code = cli(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("txlake: aborted", err=True)
        sys.exit(130)
    except click.exceptions.ClickException as error:
        error.show()
        sys.exit(error.exit_code)
    except TxlakeError as error:
        click.echo(f"txlake: error: {error}", err=True)
        sys.exit(error.exit_code)
    except KeyboardInterrupt:
        click.echo("txlake: interrupted", err=True)
        sys.exit(130)
    sys.exit(code if isinstance(code, int) else 0)
