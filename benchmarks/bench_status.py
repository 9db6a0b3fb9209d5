"""`casper status` on a home with the canonical dataset built (4 locations, 90 days, ~958K events).

The home is built with `casper up` (history, pipeline, refund model, scoring, app store sync), so
status has every figure to show; `--home DIR` reuses one built before (`--keep DIR` keeps the one
built here). Status runs end to end as a subprocess, as a person runs it; the figure is the median
of several runs (target <= 1 s), against a bare interpreter start measured in the same run.
The benchmark exits non-zero only when it fails to run, never on a missed target.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_generate import NOW
from report import Figure, report

CASPER = [sys.executable, "-m", "casper", "--home"]


def build(home: Path, days: int) -> None:
    started = time.perf_counter()
    subprocess.run(
        [*CASPER, str(home), "up", "--now", NOW, "--days", str(days)],
        check=True,
        capture_output=True,
    )
    print(f"built {home} with `casper up` in {time.perf_counter() - started:.0f} s")


def timed(command: list[str]) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    return time.perf_counter() - started, done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--runs", type=int, default=7, help="status runs to time")
    parser.add_argument("--home", type=Path, help="reuse this built home (nothing is built)")
    parser.add_argument("--keep", type=Path, help="build into this home and keep it")
    args = parser.parse_args()
    os.environ.setdefault("SQLMESH__DISABLE_ANONYMIZED_ANALYTICS", "1")
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

    home = args.home or args.keep or Path(tempfile.mkdtemp(prefix="casper-bench-status-"))
    if args.home is None:
        if args.keep is not None and args.keep.exists():
            shutil.rmtree(args.keep)
        build(home, args.days)

    seconds, human = [], []
    status = [*CASPER, str(home), "status"]
    for _ in range(args.runs):
        elapsed, shown = timed([*status, "--json"])
        seconds.append(elapsed)
        human.append(timed(status)[0])
    bare = statistics.median(timed([sys.executable, "-c", "pass"])[0] for _ in range(args.runs))
    figures = json.loads(shown)
    print(
        f"status of {home}: {figures['landed_events']:,} events landed, "
        f"{figures['bronze_events']:,} bronze, {figures['recommendations']:,} recommendations, "
        f"champion {figures['champion_model_version']}, {figures['pending']} pending"
    )
    if not (args.home or args.keep):
        shutil.rmtree(home)
    report(
        [
            Figure(
                "casper status --json, end to end", statistics.median(seconds), "s", floor=bare,
                limit=1.0, note=f"median of {len(seconds)}; floor: bare interpreter",
            ),
            Figure(
                "casper status (table), end to end", statistics.median(human), "s", floor=bare,
                limit=1.0, note=f"median of {len(human)}",
            ),
        ]
    )  # fmt: skip


if __name__ == "__main__":
    main()
