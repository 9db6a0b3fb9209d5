"""A year of data, step by step: does each step stay in bounded memory and scale linearly?

Runs the whole laptop flow twice, each in a fresh home: on the canonical 90 days and on a year
(`casper generate --locations all --days 365`, then `casper pipeline`, `casper refunds train`,
`casper refunds score`, `casper sync`). Each step is a `casper` process of its own, timed and
sampled for the peak memory of its process tree.

Targets (the performance issue): every step's peak RSS <= 2 GiB on the year, and each step's
time within 1.3x of the linear extrapolation from the 90-day run by event count (the figure is
the year's time, its floor the 90-day time x events(365) / events(90)). A per-event comparison of
the whole flow is printed as context. Never fails on a missed target, only when a step fails.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from bench_generate import NOW, run_measured
from report import Figure, report

STEPS = (
    ("generate", ["generate", "--locations", "all", "--now", NOW, "--days", "{days}"]),
    ("pipeline", ["pipeline"]),
    ("refunds train", ["refunds", "train"]),
    ("refunds score", ["refunds", "score"]),
    ("sync", ["sync"]),
)
GIB = 2**30


@dataclass(frozen=True)
class Run:
    days: int
    events: int
    seconds: dict[str, float]
    peaks: dict[str, int]


def landed_events(landing: Path) -> int:
    total = 0
    for path in landing.iterdir():
        with path.open("rb") as lines:
            total += sum(1 for _ in lines)
    return total


def run_flow(days: int, keep: Path | None) -> Run:
    home = keep / f"days-{days}" if keep else Path(tempfile.mkdtemp(prefix=f"casper-year-{days}-"))
    if home.exists():
        shutil.rmtree(home)
    seconds, peaks = {}, {}
    events = 0
    for name, arguments in STEPS:
        command = [sys.executable, "-m", "casper", "--home", str(home)]
        command += [a.format(days=days) for a in arguments]
        wall, peak, summary = run_measured(command)
        seconds[name], peaks[name] = wall, peak
        if name == "generate":
            events = landed_events(home / "landing")
        last_line = summary.splitlines()[-1] if summary else ""
        print(
            f"  {days} days, {name}: {wall:.1f} s, peak {peak / GIB:.2f} GiB  {last_line}",
            flush=True,
        )
    if keep is None:
        shutil.rmtree(home, ignore_errors=True)
    return Run(days, events, seconds, peaks)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--short-days", type=int, default=90, help="the run extrapolated from")
    parser.add_argument("--long-days", type=int, default=365)
    parser.add_argument("--keep", type=Path, help="keep both homes under this folder")
    args = parser.parse_args()

    short = run_flow(args.short_days, args.keep)
    long = run_flow(args.long_days, args.keep)
    scale = long.events / short.events
    print(
        f"events: {short.events:,} in {args.short_days} days, {long.events:,} in "
        f"{args.long_days} days ({scale:.2f}x)"
    )
    figures = []
    for name, _ in STEPS:
        figures.append(
            Figure(
                f"{args.long_days} days: {name}, time vs linear from {args.short_days} days",
                long.seconds[name],
                "s",
                floor=short.seconds[name] * scale,
                max_ratio=1.3,
            )
        )
        figures.append(
            Figure(
                f"{args.long_days} days: {name}, peak RSS", long.peaks[name] / GIB, "GiB", limit=2
            )
        )
    per_event = [sum(run.seconds.values()) / run.events * 1e6 for run in (short, long)]
    figures.append(
        Figure(
            f"whole flow per event, {args.long_days} vs {args.short_days} days",
            per_event[1],
            "us",
            floor=per_event[0],
        )
    )
    report(figures)


if __name__ == "__main__":
    main()
