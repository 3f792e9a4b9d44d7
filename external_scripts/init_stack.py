#!/usr/bin/env python3
"""Entry point of the compose `init` service: run `txlake stack init`, exit with its code.

    python external_scripts/init_stack.py [extra options for `txlake stack init`]

`txlake stack init` applies the source schema, creates the Debezium role, the
grants and the publication, creates the bucket and the CDC topics, registers the
connector idempotently and waits until it runs. All of the work, and the
settings it reads (environment > .env), live in the txlake package; this file
only hands over to it, so compose and the native stack share one code path.
"""

from __future__ import annotations

import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> None:
    try:
        from txlake.cli import main as txlake_main
    except ModuleNotFoundError as error:
        if error.name != "txlake":
            raise
        # Run from a checkout where txlake is not installed: use the checkout's package.
        sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
        from txlake.cli import main as txlake_main

    args = sys.argv[1:] if argv is None else argv
    sys.argv = ["txlake", "stack", "init", *args]
    # txlake's main() exits non-zero with a one-line reason on failure.
    txlake_main()


if __name__ == "__main__":
    main()
    sys.exit(0)
