"""Generation benchmark: the canonical-size scenario (4 locations, 90 days, ~1 million events).

Prints wall time and peak memory (the whole process tree, workers included) of `casper generate`,
and how much faster our single-source routing is than one networkx shortest_path per order.
Targets on a 2-core machine: <= 10 s wall, <= 1.5 GB peak.
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import networkx as nx
import numpy as np
import psutil

from casper.config import resolve_locations
from casper.generator.kitchens import Site
from casper.roads import build_route_table, load_network

NOW = "2026-11-26T12:00:00"


def tree_rss(process: psutil.Process) -> int:
    total = 0
    for member in [process, *process.children(recursive=True)]:
        with contextlib.suppress(psutil.Error):
            total += member.memory_info().rss
    return total


def run_measured(command: list[str]) -> tuple[float, int, str]:
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
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--baseline-orders", type=int, default=300)
    parser.add_argument(
        "--keep", type=Path, help="generate into this home and keep it (for the pipeline benchmark)"
    )
    args = parser.parse_args()

    home = args.keep or Path(tempfile.mkdtemp(prefix="casper-bench-"))
    if home.exists() and args.keep:
        shutil.rmtree(home)
    # warm the road cache first, so the timed run measures generation the way users repeat it
    command = [
        sys.executable,
        "-m",
        "casper",
        "--home",
        str(home),
        "generate",
        "--now",
        NOW,
        "--days",
    ]
    run_measured([*command, "0", "--locations", "all"])
    shutil.rmtree(home / "landing")
    (home / "generator" / "simulation.json").unlink()

    wall, peak, summary = run_measured([*command, str(args.days), "--workers", str(args.workers)])
    landed = sum(p.stat().st_size for p in (home / "landing").iterdir())
    print(summary)
    print(
        f"generate: {wall:.2f} s wall (target <= 10), peak {peak / 2**30:.2f} GiB (target <= 1.5), "
        f"{landed / 2**20:.0f} MiB landed, workers={args.workers}"
    )

    baseline, ours = routing_ratio(args.baseline_orders)
    print(
        f"routing per order: networkx shortest_path {baseline * 1e3:.2f} ms, "
        f"single-source table {ours * 1e6:.2f} us -> {baseline / ours:,.0f}x faster"
    )
    if not args.keep:
        shutil.rmtree(home)


if __name__ == "__main__":
    main()
