"""docs/cli.md is exactly what the commands' --help says today."""

from __future__ import annotations

from txlake.cli.reference import render
from txlake.settings import project_root


def test_the_committed_cli_reference_matches_the_help_of_every_command():
    committed = (project_root() / "docs" / "cli.md").read_text()

    assert committed == render(), (
        "docs/cli.md is stale: run `.venv/bin/python -m txlake.cli.reference > docs/cli.md`")


def test_every_command_has_help_text():
    import click

    from txlake.cli import cli
    from txlake.cli.reference import _walk

    for path, command in _walk(cli, ["txlake"]):
        assert (command.help or "").strip(), f"{' '.join(path)} has no help text"
        assert isinstance(command, click.Command)
