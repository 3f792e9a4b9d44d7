"""`txlake generate`: write customers and a day of transactions into the source database."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from contextlib import contextmanager

import click

from txlake.errors import TxlakeError
from txlake.generate import jobs
from txlake.generate.customers import user_id
from txlake.settings import get_settings

# Below this many rows a run takes about a second: no bar needed.
PROGRESS_FROM = 200_000


class _Checked(click.ParamType):
    """Parses an option and raises TxlakeError, so a bad value is a one-line error.

    (click's own errors print the usage block too.)
    """

    def __init__(self, name: str, parse, check=None):
        self.name = name
        self._parse = parse
        self._check = check

    def convert(self, value, param, ctx):
        if not isinstance(value, str):
            return value
        option = param.opts[0] if param is not None else self.name
        try:
            parsed = self._parse(value)
        except TxlakeError:
            raise
        except ValueError:
            raise TxlakeError(f"{option} must be {self.name} (got {value!r})") from None
        return self._check(parsed, option) if self._check else parsed


def _float(text: str) -> float:
    value = float(text)
    if math.isnan(value):
        raise ValueError(text)
    return value


COUNT = _Checked("a whole number", int, jobs.check_count)
SEED = _Checked("a whole number", int, lambda v, _: jobs.check_seed(v))
SHARE = _Checked("a fraction between 0 and 1", _float, lambda v, opt: jobs.check_share(v, opt))
DAY = _Checked("a date as YYYY-MM-DD", lambda text: jobs.parse_day(text))


def _require(value, option: str):
    if value is None:
        raise TxlakeError(f"{option} is required")
    return value


@contextmanager
def _progress(total: int, label: str, quiet: bool) -> Iterator:
    if quiet or total < PROGRESS_FROM:
        yield None
        return
    from tqdm import tqdm

    # disable=None: no bar when stderr is not a terminal (logs, Airflow).
    with tqdm(total=total, unit="rows", unit_scale=True, desc=label, disable=None) as bar:
        yield bar.update


def _emit(as_json: bool, data: dict, text: str) -> None:
    click.echo(json.dumps(data) if as_json else text)


@click.group()
def generate() -> None:
    """Write realistic source data (customers, a day of transactions) into PostgreSQL.

    Deterministic: the same --seed and arguments give the same rows on an
    empty database. Run `customers` before `transactions`.
    """


@generate.command()
@click.option("--count", type=COUNT, metavar="N", help="Customers u000001..uN should exist.")
@click.option("--seed", type=SEED, default=str(jobs.DEFAULT_SEED), show_default=True,
              metavar="S", help="Seed of names, ages, places and jobs.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def customers(count: int | None, seed: int, as_json: bool, quiet: bool) -> None:
    """Create customers u000001..uN (names, age, gender, location, occupation).

    Re-running adds only customers that do not exist yet: customer u000123
    gets the same attributes for the same seed whatever N is, so a larger
    --count extends the set and the same --count writes nothing.
    """
    count = _require(count, "--count")
    with _progress(count, "customers", quiet or as_json) as progress:
        result = jobs.generate_customers(get_settings(), count, seed, progress)
    _emit(as_json, result.as_dict(),
          f"customers: {result.inserted:,} added, {result.existing:,} already there "
          f"(u000001..{user_id(count) if count else 'none'}) in {result.seconds:.1f} s")


@generate.command()
@click.option("--date", "day", type=DAY, metavar="YYYY-MM-DD", help="The day (UTC) to generate.")
@click.option("--count", type=COUNT, metavar="N", help="Inserts of the day.")
@click.option("--seed", type=SEED, default=str(jobs.DEFAULT_SEED), show_default=True,
              metavar="S", help="Seed; the date is mixed in, so days differ.")
@click.option("--update-share", type=SHARE, default=str(jobs.DEFAULT_UPDATE_SHARE),
              show_default=True, metavar="F", help="UPDATEs as a share of --count.")
@click.option("--delete-share", type=SHARE, default=str(jobs.DEFAULT_DELETE_SHARE),
              show_default=True, metavar="F", help="DELETEs as a share of --count.")
@click.option("--late-share", type=SHARE, default=str(jobs.DEFAULT_LATE_SHARE),
              show_default=True, metavar="F",
              help="Share of inserts that happened 1-7 days earlier (late arrivals).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def transactions(day, count, seed, update_share, delete_share, late_share, as_json, quiet) -> None:
    """Insert one day of transactions, then update and delete some, in one commit.

    \b
    Inserts get ids t<YYYYMMDD>-000001, t<YYYYMMDD>-000002, ... (unique by
    construction) and happen over the day with a daily rhythm (UTC); a
    --late-share of them happened 1-7 days earlier but arrive with this day.
    Then --update-share x N rows get an amount correction or a vendor fix
    (updated_at moves forward) and --delete-share x N rows are deleted
    (cancellations); 30% of these hit rows of the 7 earlier days, the rest
    this day's own rows.

    \b
    Re-running a day: a day counts as generated once any row with its id
    prefix t<YYYYMMDD>- exists. Generating it again writes nothing and
    reports "skipped" (exit 0), so retries never duplicate a day. The day's
    inserts, updates and deletes commit together, so a failed run leaves
    nothing behind and can simply be run again. (A run never deletes all of
    its own day's rows, so the day stays recognisable.)

    \b
    Large batches (100,000+ rows, at least 1/20 of the table) are copied with
    the foreign key to customers dropped and re-created, validated in one
    join, inside the same transaction: about twice as fast; other sessions
    writing or reading transactions wait until the commit.
    """
    day = _require(day, "--date")
    count = _require(count, "--count")
    with _progress(count, f"transactions {day}", quiet or as_json) as progress:
        r = jobs.generate_transactions(get_settings(), day, count, seed, update_share,
                                       delete_share, late_share, progress)
    if r.status == "skipped":
        text = f"transactions {r.date}: already generated, nothing written"
    else:
        text = (
            f"transactions {r.date}: {r.inserted:,} inserted ({r.late_arrivals:,} late arrivals), "
            f"{r.updated:,} updated ({r.updated_earlier:,} on earlier days), "
            f"{r.deleted:,} deleted ({r.deleted_earlier:,} on earlier days) in {r.seconds:.1f} s "
            f"({r.rows_per_second:,.0f} rows/s)"
        )
    _emit(as_json, r.as_dict(), text)
