"""Pipeline benchmark on the canonical-size dataset (~1 million events, 4 locations, 90 days).

Prints: the full build from an empty warehouse (target <= 20 s on a 2-core machine) with peak memory,
an incremental tick after one more simulated minute of events lands (target <= 2 s, the watch loop's
case: one SQLMesh context kept across ticks), and the same full build on local Spark as a ratio.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_generate import NOW, run_measured

from casper.engine import open_engine
from casper.home import CasperHome
from casper.pipeline import Pipeline
from casper.settings import Settings


def fresh_copy(source: Path, name: str) -> CasperHome:
    """The generated landing and simulation state, without any warehouse."""
    target = Path(tempfile.mkdtemp(prefix=f"casper-{name}-"))
    for part in ("landing", "generator", "roads"):
        shutil.copytree(source / part, target / part)
    return CasperHome(target)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--ticks", type=int, default=5, help="incremental ticks to time")
    parser.add_argument("--skip-spark", action="store_true")
    args = parser.parse_args()

    source = Path(tempfile.mkdtemp(prefix="casper-bench-data-"))
    casper = [sys.executable, "-m", "casper", "--home"]
    subprocess.run(
        [*casper, str(source), "generate", "--now", NOW, "--days", str(args.days), "--workers", "2"],
        check=True, capture_output=True,
    )  # fmt: skip
    events = sum(1 for p in (source / "landing").iterdir() for _ in p.open("rb"))
    print(f"dataset: {events:,} events in {len(list((source / 'landing').iterdir()))} files")

    duckdb_home = fresh_copy(source, "duckdb")
    wall, peak, _ = run_measured([*casper, str(duckdb_home.root), "pipeline"])
    print(
        f"full build, duckdb: {wall:.1f} s wall including ~6 s of imports (target <= 20), peak {peak / 2**30:.2f} GiB"
    )

    pipeline = Pipeline(open_engine(Settings.load(home=duckdb_home.root, engine="duckdb")))
    pipeline.tick()  # the watch loop's context is warm after its first tick
    timings = []
    for _ in range(args.ticks):
        subprocess.run(
            [*casper, str(duckdb_home.root), "live", "--speed", "100000", "--sim-minutes", "1", "--batch-rows", "100000"],
            check=True, capture_output=True,
        )  # fmt: skip
        started = time.perf_counter()
        report = pipeline.tick()
        timings.append(time.perf_counter() - started)
        assert report.files_ingested >= 1
    pipeline.close()
    print(
        f"incremental tick after one more simulated minute lands: median {statistics.median(timings):.2f} s, "
        f"max {max(timings):.2f} s over {len(timings)} ticks (target <= 2)"
    )

    if not args.skip_spark:
        spark_home = fresh_copy(source, "spark")
        spark_wall, spark_peak, _ = run_measured(
            [*casper, str(spark_home.root), "pipeline", "--engine", "spark"]
        )
        print(
            f"full build, spark local[2]: {spark_wall:.1f} s wall, peak {spark_peak / 2**30:.2f} GiB "
            f"-> {spark_wall / wall:.1f}x the duckdb build"
        )


if __name__ == "__main__":
    main()
