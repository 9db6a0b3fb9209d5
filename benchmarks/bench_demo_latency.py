"""Demo latency: from an order's `delivered` event being written to its recommendation being
visible in the app store (what the review app reads), with the demo's background loops running.

Runs `casper up` in a temporary home, then the live generator (60x) and the pipeline watch (which
scores and syncs) exactly as `casper demo` runs them, polls the app store, and prints the median and
95th percentile delay over the orders delivered during the run.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from report import Figure, report

from casper.demo import BackgroundLoops
from casper.engine import open_engine
from casper.home import CasperHome
from casper.settings import Settings

NOW = "2026-11-26T12:00:00"


def visible_orders(store: Path) -> set[str]:
    with sqlite3.connect(f"file:{store}?mode=ro", uri=True, timeout=30) as connection:
        return {row[0] for row in connection.execute("SELECT order_id FROM pg_recommendations")}


def delivered_written_at(landing: Path) -> dict[str, float]:
    """order_id -> when the live file holding its delivered event was written (mtime)."""
    written: dict[str, float] = {}
    for path in landing.glob("live-*.ndjson"):
        mtime = path.stat().st_mtime
        for line in path.read_text().splitlines():
            if '"event_type":"delivered"' in line:
                written[json.loads(line)["order_id"]] = mtime
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=90.0)
    parser.add_argument("--speed", type=float, default=60.0)
    parser.add_argument(
        "--every", type=float, default=2.0, help="pipeline tick interval (demo default 3)"
    )
    args = parser.parse_args()

    home = CasperHome(Path(tempfile.mkdtemp(prefix="casper-latency-")))
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "casper", "--home", str(home.root), "up", "--now", NOW, "--days", "1"],
        check=True, capture_output=True,
    )  # fmt: skip
    print(f"casper up (1 day of history, 4 locations): {time.perf_counter() - started:.1f} s")

    store = home.root / "appstore" / "recommender.sqlite"
    already = visible_orders(store)
    first_seen: dict[str, float] = {}
    loops = BackgroundLoops(
        open_engine(Settings.load(home=home.root, engine="duckdb")),
        speed=args.speed,
        every=args.every,
    )
    loops.start()
    deadline = time.time() + args.seconds
    try:
        while time.time() < deadline:
            now = time.time()
            for order_id in visible_orders(store) - already - first_seen.keys():
                first_seen[order_id] = now
            time.sleep(0.1)
    finally:
        loops.close()
    for problem in loops.errors:
        print(f"background loop: {problem}")

    written = delivered_written_at(home.landing)
    delays = sorted(first_seen[o] - written[o] for o in first_seen if o in written)
    if len(delays) < 2:
        raise SystemExit(f"too few live deliveries seen ({len(delays)}); run longer")
    p95 = delays[min(len(delays) - 1, round(0.95 * (len(delays) - 1)))]
    print(
        f"delivered event written -> visible in the app store, over {len(delays)} live orders "
        f"(speed {args.speed:g}x, tick every {args.every:g} s): median {statistics.median(delays):.2f} s, "
        f"p95 {p95:.2f} s, max {delays[-1]:.2f} s"
    )
    report(
        [
            Figure("demo: delivered -> in the app store, median", statistics.median(delays), "s"),
            Figure("demo: delivered -> in the app store, p95", p95, "s"),
        ]
    )


if __name__ == "__main__":
    main()
