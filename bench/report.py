"""The one table format every benchmark prints, and the statistics in it."""

from __future__ import annotations


def print_table(rows: list[tuple[str, str]], heading: str = "measure") -> None:
    width = max([len(heading)] + [len(name) for name, _ in rows])
    print(f"\n{heading.ljust(width)}  value")
    print(f"{'-' * width}  -----")
    for name, value in rows:
        print(f"{name.ljust(width)}  {value}")


def percentile(values: list[float], q: float) -> float:
    """The `q` quantile of `values` (nearest rank: always a measured value)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]
