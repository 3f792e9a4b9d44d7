"""The one table format every benchmark prints."""

from __future__ import annotations


def print_table(rows: list[tuple[str, str]], heading: str = "measure") -> None:
    width = max([len(heading)] + [len(name) for name, _ in rows])
    print(f"\n{heading.ljust(width)}  value")
    print(f"{'-' * width}  -----")
    for name, value in rows:
        print(f"{name.ljust(width)}  {value}")
