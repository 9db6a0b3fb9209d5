"""What every benchmark reports: figures, each with the floor measured in the same run and a target.

A benchmark builds `Figure`s and calls `report(figures)`: it prints its own table, and when
`make bench` runs it (`benchmarks/run_all.py` sets $CASPER_BENCH_REPORT to a file) it also appends
the figures there as JSON lines, so the run prints one table of every benchmark at the end.
Targets are reported, never asserted: a missed target is a "no" in the table, not a failure.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

REPORT_FILE = "CASPER_BENCH_REPORT"


@dataclass(frozen=True)
class Figure:
    """One measured figure. `floor` is the baseline it is compared with, measured in the same run
    and in the same unit (an I/O floor, or the other side of a comparison); `ratio` = figure/floor.
    `max_ratio` and `limit` are the targets (on the ratio, on the figure); either may be absent."""

    measure: str
    value: float
    unit: str  # "s", "ms", "GiB", "us", ...
    floor: float | None = None
    max_ratio: float | None = None
    limit: float | None = None
    note: str = ""

    @property
    def ratio(self) -> float | None:
        return None if self.floor in (None, 0) else self.value / self.floor

    @property
    def target(self) -> str:
        parts = []
        if self.max_ratio is not None:
            parts.append(f"<= {self.max_ratio:g}x floor")
        if self.limit is not None:
            parts.append(f"<= {self.limit:g} {self.unit}")
        return ", ".join(parts) or "-"

    @property
    def met(self) -> bool | None:
        checks = []
        if self.max_ratio is not None and self.ratio is not None:
            checks.append(self.ratio <= self.max_ratio)
        if self.limit is not None:
            checks.append(self.value <= self.limit)
        return all(checks) if checks else None


def quantity(value: float, unit: str) -> str:
    return f"{value:,.2f} {unit}" if abs(value) < 100 else f"{value:,.0f} {unit}"


def ratio_text(ratio: float) -> str:
    """Two decimals, or two significant digits for ratios that would show as 0.00x."""
    return f"{ratio:,.2f}x" if abs(ratio) >= 0.01 or ratio == 0 else f"{ratio:.2g}x"


def table(figures: list[Figure]) -> str:
    header = ("measure", "figure", "floor", "ratio", "target", "met")
    rows = [
        (
            figure.measure + (f" ({figure.note})" if figure.note else ""),
            quantity(figure.value, figure.unit),
            "-" if figure.floor is None else quantity(figure.floor, figure.unit),
            "-" if figure.ratio is None else ratio_text(figure.ratio),
            figure.target,
            {None: "-", True: "yes", False: "NO"}[figure.met],
        )
        for figure in figures
    ]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = [header, tuple("-" * width for width in widths), *rows]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in lines
    )


def report(figures: list[Figure]) -> None:
    """Print the figures as a table; append them to $CASPER_BENCH_REPORT when it is set."""
    print()
    print(table(figures))
    target = os.environ.get(REPORT_FILE)
    if target:
        with Path(target).open("a", encoding="utf-8") as out:
            for figure in figures:
                out.write(json.dumps(asdict(figure)) + "\n")


def read_report(path: Path) -> list[Figure]:
    if not path.exists():
        return []
    return [Figure(**json.loads(line)) for line in path.read_text().splitlines() if line.strip()]
