"""Draw images/architecture.svg: txlake's data flow, from the generators to the notebooks.

    .venv/bin/python scripts/architecture_svg.py [--out images/architecture.svg]

Plain SVG written by hand-placed boxes on a grid (no drawing tool, no network).
The same picture as a Mermaid flowchart is images/architecture.mmd; change both.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from html import escape
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# A 4-column grid to the right of the Airflow column; rows top to bottom.
COL = [280, 570, 860, 1150]
ROW = [110, 250, 420, 600]
W, H = 220, 84
WIDTH, HEIGHT = 1400, 730

PALETTE = {  # fill, stroke
    "source": ("#e8f0fb", "#336699"),
    "stream": ("#f3ecfa", "#6b4c9a"),
    "spark": ("#fff1e0", "#d9822b"),
    "lake": ("#fdecec", "#c0392b"),
    "serve": ("#e6f5ec", "#2e8b57"),
    "query": ("#fbe9f4", "#b03a84"),
    "user": ("#f0f0f0", "#555555"),
    "airflow": ("#e7f6fb", "#017cee"),
}


@dataclass(frozen=True)
class Box:
    key: str
    col: int
    row: int
    title: str
    lines: tuple[str, ...]
    kind: str
    task: bool = False  # an Airflow task runs it

    @property
    def x(self) -> int:
        return COL[self.col]

    @property
    def y(self) -> int:
        return ROW[self.row]

    def anchor(self, side: str, shift: float = 0.0) -> tuple[float, float]:
        cx, cy = self.x + W / 2 + shift * W / 2, self.y + H / 2
        return {"top": (cx, self.y), "bottom": (cx, self.y + H), "left": (self.x, cy),
                "right": (self.x + W, cy)}[side]


BOXES = [
    Box("gen", 0, 0, "Generators", ("Faker + numpy customers and", "transactions; updates, deletes,",
                                     "late arrivals"), "source", task=True),
    Box("pg", 1, 0, "PostgreSQL 15", ("source tables customers,", "transactions", "wal_level=logical"),
        "source"),
    Box("connect", 2, 0, "Debezium on Kafka Connect", ("PostgreSQL connector (pgoutput)",
                                                        "JSON change envelopes"), "stream"),
    Box("kafka", 3, 0, "Kafka (KRaft)",
        ("topics", "<prefix>.public.customers", "<prefix>.public.transactions"), "stream"),
    Box("quality", 0, 1, "Quality checks", ("pydeequ on silver and gold;", "reconcile vs the source"),
        "spark", task=True),
    Box("features", 1, 1, "Spark features", ("on the warm features driver:", "daily partials per user,",
                                              "combined weekly"), "spark", task=True),
    Box("ingest", 3, 1, "Spark ingest", ("Structured Streaming", "append bronze, MERGE silver", "by LSN"),
        "spark", task=True),
    Box("results", 0, 2, "quality_results", ("check outcomes per run",), "lake"),
    Box("gold", 1, 2, "gold", ("features: one row per", "user and as-of date"), "lake"),
    Box("silver", 2, 2, "silver", ("customers, transactions:", "current state per key"), "lake"),
    Box("bronze", 3, 2, "bronze", ("*_changelog: every change", "event with offset and LSN"), "lake"),
    Box("feast", 1, 3, "Feast", ("offline: the gold Delta table", "online: materialized store"), "serve",
        task=True),
    Box("notebooks", 2, 3, "Notebooks", ("get_online_features,", "get_historical_features, SQL"), "user"),
    Box("trino", 3, 3, "Trino", ("catalog lakehouse: the Delta", "tables; catalog source:",
                                 "PostgreSQL (federated)"), "query"),
]
BY_KEY = {b.key: b for b in BOXES}

# (from, side, to, side, label, shift at start, shift at end)
ARROWS = [
    ("gen", "right", "pg", "left", "SQL", 0, 0),
    ("pg", "right", "connect", "left", "WAL", 0, 0),
    ("connect", "right", "kafka", "left", "JSON", 0, 0),
    ("kafka", "bottom", "ingest", "top", "", 0, 0),
    ("ingest", "bottom", "bronze", "top", "", 0, 0),
    ("ingest", "left", "silver", "top", "", 0, 0.3),
    ("silver", "top", "features", "right", "", -0.3, 0),
    ("features", "bottom", "gold", "top", "", 0, 0),
    ("quality", "bottom", "results", "top", "", 0, 0),
    ("gold", "bottom", "feast", "top", "", 0, 0),
    ("feast", "right", "notebooks", "left", "", 0, 0),
    ("trino", "left", "notebooks", "right", "", 0, 0),
    ("bronze", "bottom", "trino", "top", "SQL", 0, 0),
]
LAKE = (COL[0] - 20, ROW[2] - 30, COL[3] + W + 20 - (COL[0] - 20), H + 70)


def text(x: float, y: float, value: str, *, size: int = 13, weight: str = "normal",
         anchor: str = "middle", fill: str = "#222") -> str:
    return (f'<text x="{x:.0f}" y="{y:.0f}" font-size="{size}" font-weight="{weight}" '
            f'text-anchor="{anchor}" fill="{fill}">{escape(value)}</text>')


def box(b: Box) -> str:
    fill, stroke = PALETTE[b.kind]
    parts = [f'<rect x="{b.x}" y="{b.y}" width="{W}" height="{H}" rx="10" fill="{fill}" '
             f'stroke="{stroke}" stroke-width="2"/>',
             text(b.x + W / 2, b.y + 22, b.title, size=15, weight="bold", fill=stroke)]
    for i, line in enumerate(b.lines):
        parts.append(text(b.x + W / 2, b.y + 42 + 15 * i, line, size=12))
    if b.task:
        fill, stroke = PALETTE["airflow"]
        parts.append(f'<rect x="{b.x + W - 58}" y="{b.y - 9}" width="64" height="18" rx="9" '
                     f'fill="{stroke}"/>')
        parts.append(text(b.x + W - 26, b.y + 4, "Airflow", size=11, weight="bold", fill="#fff"))
    return "\n".join(parts)


def arrow(spec: tuple) -> str:
    start, s_side, end, e_side, label, s_shift, e_shift = spec
    x1, y1 = BY_KEY[start].anchor(s_side, s_shift)
    x2, y2 = BY_KEY[end].anchor(e_side, e_shift)
    if s_side == "left" and e_side == "top":  # an elbow: across, then down
        path = f"M{x1:.0f},{y1:.0f} H{x2:.0f} V{y2 - 2:.0f}"
    elif s_side == "top" and e_side == "right":  # up, then across
        path = f"M{x1:.0f},{y1:.0f} V{y2:.0f} H{x2 + 2:.0f}"
    else:
        path = f"M{x1:.0f},{y1:.0f} L{x2:.0f},{y2:.0f}"
    parts = [f'<path d="{path}" fill="none" stroke="#444" stroke-width="1.8" marker-end="url(#head)"/>']
    for i, line in enumerate(label.split("\n") if label else []):
        if s_side in ("left", "right"):
            parts.append(text((x1 + x2) / 2, y1 - 8 - 14 * (len(label.split("\n")) - 1 - i), line, size=11,
                              fill="#444"))
        else:
            parts.append(text(x1 + 8, (y1 + y2) / 2 + 4, line, size=11, anchor="start", fill="#444"))
    return "\n".join(parts)


def airflow_panel() -> str:
    fill, stroke = PALETTE["airflow"]
    x, y, w, h = 30, ROW[0], 220, ROW[3] + H - ROW[0]
    lines = [
        ("Airflow", 16, "bold"), ("", 12, "normal"),
        ("txlake_daily  0 0 * * *", 12, "bold"), ("generate the day", 12, "normal"),
        ("ingest CDC", 12, "normal"), ("quality checks", 12, "normal"), ("reconcile", 12, "normal"),
        ("", 12, "normal"),
        ("txlake_weekly  0 0 * * 1", 12, "bold"), ("features as of Monday", 12, "normal"),
        ("quality checks", 12, "normal"), ("Trino table refresh", 12, "normal"),
        ("Feast materialize", 12, "normal"), ("", 12, "normal"),
        ("Boxes tagged Airflow", 11, "normal"), ("run as its tasks; the same", 11, "normal"),
        ("code runs from the txlake", 11, "normal"), ("CLI and `txlake demo`.", 11, "normal"),
    ]
    parts = [f'<rect x="{x}" y="{y}" width="{w}" height="{h}" rx="12" fill="{fill}" stroke="{stroke}" '
             'stroke-width="2"/>']
    for i, (line, size, weight) in enumerate(lines):
        parts.append(text(x + 16, y + 30 + 21 * i, line, size=size, weight=weight, anchor="start",
                          fill=stroke if weight == "bold" else "#222"))
    return "\n".join(parts)


def svg() -> str:
    lx, ly, lw, lh = LAKE
    fill, stroke = PALETTE["lake"]
    body = [
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="#ffffff"/>',
        text(WIDTH / 2, 40, "txlake: change data capture into a Delta lakehouse and a feature store",
             size=20, weight="bold"),
        text(WIDTH / 2, 66, "every process runs natively (txlake stack up) or in Docker Compose, "
             "configured by the same settings", size=13, fill="#555"),
        airflow_panel(),
        f'<rect x="{lx}" y="{ly}" width="{lw}" height="{lh}" rx="14" fill="#fff8f8" stroke="{stroke}" '
        'stroke-width="1.5" stroke-dasharray="6 4"/>',
        # Bottom, between the arrows to Feast and to Trino: no arrow crosses it there.
        text(COL[3] + W / 2 - 16, ly + lh - 12, "MinIO (S3) · bucket lakehouse · Delta tables under project/",
             size=13, weight="bold", anchor="end", fill=stroke),
    ]
    body += [arrow(a) for a in ARROWS]
    body += [box(b) for b in BOXES]
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" font-family="Helvetica, Arial, sans-serif">\n'
        '<title>txlake architecture</title>\n'
        '<defs><marker id="head" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="8" '
        'markerHeight="8" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#444"/>'
        '</marker></defs>\n' + "\n".join(body) + "\n</svg>\n"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "images" / "architecture.svg")
    args = parser.parse_args()
    args.out.write_text(svg())
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
