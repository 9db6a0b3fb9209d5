"""`make bench`: run every benchmark, then print one table of all their figures.

Each benchmark runs in its own process with its output shown as it goes; the figures it reports
(benchmarks/report.py) are gathered through $CASPER_BENCH_REPORT. Exits non-zero only when a
benchmark fails to run, never on a missed target.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from report import REPORT_FILE, read_report, table

HERE = Path(__file__).resolve().parent
BENCHMARKS = ("generate", "pipeline", "status", "year", "appstore", "demo_latency")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "names", nargs="*", metavar="NAME", help=f"only these ({', '.join(BENCHMARKS)})"
    )
    args = parser.parse_args()
    unknown = sorted(set(args.names) - set(BENCHMARKS))
    if unknown:
        raise SystemExit(
            f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(BENCHMARKS)}"
        )
    chosen = [name for name in BENCHMARKS if not args.names or name in args.names]

    failed: list[str] = []
    with tempfile.TemporaryDirectory(prefix="casper-bench-report-") as folder:
        gathered = Path(folder) / "figures.jsonl"
        environment = {**os.environ, REPORT_FILE: str(gathered)}
        for name in chosen:
            script = HERE / f"bench_{name}.py"
            if not script.exists():
                failed.append(f"{name} (no {script.name})")
                continue
            print(f"\n=== {name} ===", flush=True)
            started = time.perf_counter()
            code = subprocess.run([sys.executable, str(script)], env=environment).returncode
            print(f"=== {name}: {time.perf_counter() - started:.0f} s, exit {code}", flush=True)
            if code:
                failed.append(f"{name} (exit {code})")
        figures = read_report(gathered)

    print(f"\n=== all benchmarks: {len(figures)} figures, {os.cpu_count()} cores ===")
    print(table(figures) if figures else "(no figures)")
    if failed:
        raise SystemExit(f"benchmark(s) failed to run: {', '.join(failed)}")


if __name__ == "__main__":
    main()
