"""`txlake generate` on the command line: bad arguments give one-line errors."""

from __future__ import annotations

import json

import click
import pytest
from click.testing import CliRunner

from txlake.cli.generate import generate
from txlake.errors import TxlakeError


def run(*args: str) -> tuple[int, str, str]:
    """Invoke the group the way the txlake entry point does (see txlake.cli.main)."""
    runner = CliRunner()
    result = runner.invoke(generate, list(args), standalone_mode=False, catch_exceptions=True)
    if isinstance(result.exception, TxlakeError):
        return 1, result.stdout, f"txlake: error: {result.exception}\n"
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, ""


@pytest.mark.parametrize(("args", "needle"), [
    (["customers", "--count", "-5"], "--count must be zero or more"),
    (["customers", "--count", "many"], "--count must be a whole number"),
    (["customers"], "--count is required"),
    (["customers", "--count", "3", "--seed", "-1"], "--seed must be zero or more"),
    (["transactions", "--date", "2026-11-20", "--count", "-1"], "--count must be zero or more"),
    (["transactions", "--date", "2026/11/20", "--count", "5"], "--date must be a date as YYYY-MM-DD"),
    (["transactions", "--date", "20261120", "--count", "5"], "--date must be a date as YYYY-MM-DD"),
    (["transactions", "--date", "2026-13-01", "--count", "5"], "--date must be a date"),
    (["transactions", "--date", "2026-11-20T00:00", "--count", "5"], "--date must be a date"),
    (["transactions", "--count", "5"], "--date is required"),
    (["transactions", "--date", "2026-11-20"], "--count is required"),
    (["transactions", "--date", "2026-11-20", "--count", "5", "--update-share", "1.5"],
     "--update-share must be a fraction between 0 and 1"),
    (["transactions", "--date", "2026-11-20", "--count", "5", "--delete-share", "-0.1"],
     "--delete-share must be a fraction between 0 and 1"),
    (["transactions", "--date", "2026-11-20", "--count", "5", "--late-share", "nan"],
     "--late-share must be a fraction between 0 and 1"),
    (["transactions", "--date", "2026-11-20", "--count", "5", "--late-share", "half"],
     "--late-share must be a fraction between 0 and 1"),
    (["transactions", "--date", "2026-11-20", "--count", "5", "--update-share", "0.7",
      "--delete-share", "0.4"], "must not exceed 1"),
])
def test_bad_arguments_are_one_line_errors(args, needle):
    code, out, err = run(*args)
    assert code == 1 and out == ""
    assert needle in err
    assert err.count("\n") == 1 and err.startswith("txlake: error: ")


def test_transactions_before_any_customer(db):
    code, _, err = run("transactions", "--date", "2026-11-20", "--count", "10")
    assert code == 1 and "no customers yet" in err and err.count("\n") == 1


def test_json_summaries(db):
    code, out, _ = run("customers", "--count", "40", "--json")
    assert code == 0 and json.loads(out) == {**json.loads(out), "inserted": 40, "existing": 0}
    args = ("transactions", "--date", "2026-11-20", "--count", "400", "--json")
    code, out, _ = run(*args)
    summary = json.loads(out)
    assert code == 0 and summary["status"] == "created" and summary["inserted"] == 400
    assert summary["updated"] == 20 and summary["deleted"] == 4
    code, out, _ = run(*args)
    assert code == 0 and json.loads(out)["status"] == "skipped"


def test_help_explains_the_rerun_rule():
    result = CliRunner().invoke(generate, ["transactions", "--help"])
    assert result.exit_code == 0
    assert "already" in result.output or "generated" in result.output
    assert "t<YYYYMMDD>-" in result.output and "skipped" in result.output
    assert "--update-share" in result.output and "--late-share" in result.output


def test_the_group_is_a_click_group_named_generate():
    assert isinstance(generate, click.Group) and generate.name == "generate"
    assert set(generate.commands) == {"customers", "transactions"}
