"""Generation benchmark: the canonical-size scenario (4 locations, 90 days, ~1 million events).

Times `casper generate` (wall, and peak memory of the whole process tree, workers included) against
its floor measured in the same run: polars writing the very same events, read back from the landed
files into memory, to NDJSON files (only the writing is timed); and, as context without a target,
against the same write made durable as generate lands its files (an fsync per file before its
rename). Also reports our single-source routing per order against one networkx shortest_path
per order. Each generation and floor is measured --repeat times, alternating, each from a settled
disk (`settle_disk`); the figures are the medians (peak memory: the largest).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import networkx as nx
import numpy as np
import polars as pl
import psutil
from report import Figure, report

from casper.config import resolve_locations
from casper.generator.kitchens import Site
from casper.roads import build_route_table, load_network

NOW = "2026-11-26T12:00:00"
#: the command as users run it: the script pip installs beside this interpreter (a helper
#: process starts by running the parent's main script again, so the entry point's imports count)
INSTALLED = Path(sys.executable).with_name("casper")
CASPER = [str(INSTALLED)] if INSTALLED.is_file() else [sys.executable, "-m", "casper"]


def tree_rss(process: psutil.Process) -> int:
    total = 0
    for member in [process, *process.children(recursive=True)]:
        with contextlib.suppress(psutil.Error):
            total += member.memory_info().rss
    return total


def settle_disk() -> None:
    """Write every dirty page back before a timed step starts, untimed: otherwise a step pays for
    the writes of the one before it (a generate's 355 MiB, a copied landing folder), as the kernel
    flushes them while it runs, and a floor or a figure moves with what ran just before it.
    (Windows has no os.sync: there the steps run as they come.)"""
    if hasattr(os, "sync"):
        os.sync()


def run_measured(command: list[str]) -> tuple[float, int, str]:
    settle_disk()
    started = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    watched = psutil.Process(child.pid)
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            with contextlib.suppress(psutil.Error):
                peak = max(peak, tree_rss(watched))
            time.sleep(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    stdout, _ = child.communicate()
    wall = time.perf_counter() - started
    done.set()
    sampler.join()
    if child.returncode:
        raise SystemExit(f"generate failed ({child.returncode})")
    return wall, peak, stdout.strip()


def cpu_seconds(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def landed_frames(landing: Path) -> list[tuple[str, pl.DataFrame]]:
    """Each landed file's events, read back into memory (untimed), by file name."""
    return [(path.name, pl.read_ndjson(path)) for path in sorted(landing.iterdir())]


def write_floor(
    frames: list[tuple[str, pl.DataFrame]], durable: bool = False
) -> tuple[float, float, int]:
    """Seconds (wall, then CPU) polars takes to write the landed events, held in memory, to
    NDJSON files (one per landed file, as generate writes them), and the bytes it wrote.
    `durable`: each file is written as generate lands it, under a temporary name, its bytes
    flushed to disk (fsync) before it is renamed; one after another."""
    with tempfile.TemporaryDirectory(prefix="casper-bench-floor-") as folder:
        out = Path(folder)
        settle_disk()
        started, cpu = time.perf_counter(), cpu_seconds(resource.RUSAGE_SELF)
        for name, frame in frames:
            if not durable:
                frame.write_ndjson(out / name)
                continue
            temporary = out / f".{name}.tmp"
            frame.write_ndjson(temporary)
            descriptor = os.open(temporary, os.O_RDONLY)
            try:
                os.fsync(descriptor)
            finally:
                os.close(descriptor)
            os.replace(temporary, out / name)
        seconds = time.perf_counter() - started
        cpu = cpu_seconds(resource.RUSAGE_SELF) - cpu
        written = sum(p.stat().st_size for p in out.iterdir())
    return seconds, cpu, written


def routing_ratio(orders: int, seed: int = 7) -> tuple[float, float]:
    """Seconds per order: networkx shortest_path per order vs one csgraph Dijkstra per kitchen."""
    config = resolve_locations("sanfrancisco")[0]
    site = Site.of(config)
    with tempfile.TemporaryDirectory() as roads:
        graph = load_network(site, Path(roads))
    started = time.perf_counter()
    table = build_route_table(graph, site.kitchen_lat, site.kitchen_lon)
    rng = np.random.default_rng(seed)
    destinations = rng.integers(0, table.nodes.size, 100_000)
    _ = table.dist_m[destinations], table.route_offsets[destinations]
    ours = (time.perf_counter() - started) / destinations.size

    sample = table.nodes[rng.integers(0, table.nodes.size, orders)]
    started = time.perf_counter()
    for target in sample:
        nx.shortest_path(graph, table.kitchen_node, int(target), weight="length")
    baseline = (time.perf_counter() - started) / orders
    return baseline, ours


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument(
        "--workers", type=int, help="passed to generate (default: generate's own default)"
    )
    parser.add_argument("--repeat", type=int, default=3, help="generations (and floors) to time")
    parser.add_argument("--baseline-orders", type=int, default=300)
    parser.add_argument(
        "--keep", type=Path, help="generate into this home and keep it (for the pipeline benchmark)"
    )
    args = parser.parse_args()

    home = args.keep or Path(tempfile.mkdtemp(prefix="casper-bench-"))
    if home.exists() and args.keep:
        shutil.rmtree(home)
    command = [
        *CASPER,
        "--home",
        str(home),
        "generate",
        "--now",
        NOW,
        "--days",
    ]
    # warm the road cache first, so the timed runs measure generation the way users repeat it
    run_measured([*command, "0", "--locations", "all"])
    workers = [] if args.workers is None else ["--workers", str(args.workers)]

    walls, peaks, cpus, floors, floor_cpus, durable_floors = [], [], [], [], [], []
    for _ in range(args.repeat):
        shutil.rmtree(home / "landing", ignore_errors=True)
        (home / "generator" / "simulation.json").unlink(missing_ok=True)
        cpu = cpu_seconds(resource.RUSAGE_CHILDREN)  # generate and the workers it waits for
        wall, peak, summary = run_measured([*command, str(args.days), *workers])
        cpus.append(cpu_seconds(resource.RUSAGE_CHILDREN) - cpu)
        walls.append(wall)
        peaks.append(peak)
        frames = landed_frames(home / "landing")
        floor, floor_cpu, written = write_floor(frames)
        floors.append(floor)
        floor_cpus.append(floor_cpu)
        durable_floor, _, durable_written = write_floor(frames, durable=True)
        durable_floors.append(durable_floor)
        del frames
    landed = sum(p.stat().st_size for p in (home / "landing").iterdir())
    if not written == durable_written == landed:
        raise SystemExit(
            f"the floors wrote {written} and {durable_written} bytes, generate landed {landed}"
        )
    print(summary)
    print(
        f"{landed / 2**20:.0f} MiB landed; workers: {args.workers or 'default'}; "
        f"generate {', '.join(f'{w:.2f}' for w in walls)} s "
        f"(CPU {', '.join(f'{c:.2f}' for c in cpus)} s); "
        f"floor {', '.join(f'{f:.2f}' for f in floors)} s "
        f"(CPU {', '.join(f'{c:.2f}' for c in floor_cpus)} s); "
        f"durable floor {', '.join(f'{f:.2f}' for f in durable_floors)} s; "
        f"load average {', '.join(f'{x:.1f}' for x in psutil.getloadavg())} on {psutil.cpu_count()} cores"
    )

    baseline, ours = routing_ratio(args.baseline_orders)
    runs = f"median of {args.repeat}"
    report(
        [
            Figure(
                f"generate all locations x {args.days} days, wall",
                statistics.median(walls),
                "s",
                floor=statistics.median(floors),
                max_ratio=2.5,
                note=f"{runs}; floor: polars writing the same events to NDJSON",
            ),
            Figure(
                f"generate all locations x {args.days} days, wall, against a durable write",
                statistics.median(walls),
                "s",
                floor=statistics.median(durable_floors),
                note=f"{runs}; context, no target: generate lands each file durably (its bytes"
                " on disk before it is renamed in); floor: the same polars write, with an fsync"
                " per file, one file after another",
            ),
            Figure(
                "generate, CPU time of the process tree",
                statistics.median(cpus),
                "s",
                floor=statistics.median(floor_cpus),
                note=f"{runs}; what the wall figure would be on one idle core",
            ),
            Figure(
                "generate, peak memory of the process tree",
                max(peaks) / 2**30,
                "GiB",
                limit=1.0,
                note=f"largest of {args.repeat}",
            ),
            Figure(
                "routing per order, ours vs networkx shortest_path",
                ours * 1e6,
                "us",
                floor=baseline * 1e6,
                note=f"floor: networkx; ours is {baseline / ours:,.0f}x faster",
            ),
        ]
    )
    if not args.keep:
        shutil.rmtree(home)


if __name__ == "__main__":
    main()
