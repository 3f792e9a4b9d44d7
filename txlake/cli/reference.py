"""The CLI reference (docs/cli.md), generated from the commands' own --help.

    .venv/bin/python -m txlake.cli.reference > docs/cli.md

A test compares the committed file with a fresh rendering, so the reference
cannot drift from the code.
"""

from __future__ import annotations

import click

from txlake.cli import cli


def _walk(command: click.Command, path: list[str]):
    yield path, command
    if isinstance(command, click.Group):
        for name in sorted(command.list_commands(click.Context(command))):
            yield from _walk(command.get_command(click.Context(command), name), [*path, name])


def render() -> str:
    parts = ["# txlake command-line reference",
             "",
             "Generated from `--help` by `python -m txlake.cli.reference`; do not edit by hand.",
             ""]
    for path, command in _walk(cli, ["txlake"]):
        name = " ".join(path)
        with click.Context(command, info_name=name, terminal_width=100,
                           max_content_width=100) as ctx:
            help_text = command.get_help(ctx)
        parts += [f"## `{name}`", "", "```text", help_text.rstrip(), "```", ""]
    return "\n".join(parts)


if __name__ == "__main__":
    print(render(), end="")
