"""Errors the CLI turns into a one-line message and a non-zero exit."""


class TxlakeError(Exception):
    """An expected failure with a message fit for one line on a terminal."""

    exit_code = 1
