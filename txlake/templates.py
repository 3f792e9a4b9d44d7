"""Fill `${NAME}` placeholders in the project's config files from the settings."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from txlake.errors import TxlakeError

# `${env:NAME}` is Kafka Connect's own config-provider syntax, resolved inside
# the worker so secrets never enter the connector config: leave it alone.
_PLACEHOLDER = re.compile(r"\$\{([A-Z][A-Z0-9_]*)\}")


def render(text: str, values: Mapping[str, object], *, source: str = "template") -> str:
    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            raise TxlakeError(f"{source} refers to ${{{name}}}, which is not a setting")
        return str(values[name])

    return _PLACEHOLDER.sub(substitute, text)


def render_file(path: Path, values: Mapping[str, object]) -> str:
    return render(path.read_text(), values, source=str(path))
