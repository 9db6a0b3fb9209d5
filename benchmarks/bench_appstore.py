"""App store and review app benchmark at the performance issue's size: 1,000,000 recommendations.

Syncs N synthetic recommendations (tests.appstore_fixtures' builders) into the embedded SQLite store,
and into PostgreSQL when `--pg-dsn` or $CASPER_TEST_PG_DSN names a server (a throwaway database is
created on it and dropped at exit). Then, on each store:

- the store's reads: first page, pages 2-51 by keyset, a filtered page (pending, partial, chicago),
  a search by order-id fragment and the summary;
- the review app driven headless by Textual's pilot: from start (opening the store included, Python's
  imports not) to the first screen with rows, the next page (`]`) and a filter change (`s`).

Targets (the performance issue): first screen <= 0.5 s after start; next page and filter change
<= 100 ms. Search and summary are printed as context. Prints a table; never fails on a missed
target, only when the run itself fails.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # tests/ holds the data builders; and this checkout's packages
# ruff: noqa: E402  (the imports below need that path)

from benchmarks.report import Figure, report
from casper.appstore import AppStore, ListFilters, open_store, sync_frames
from casper.home import CasperHome
from tests.appstore_fixtures import (
    SteppingClock,
    postgres_dsn,
    synthetic_frames,
    synthetic_sqlite_home,
)
from tui.app import RefundReviewApp
from tui.review_screen import ReviewScreen
from tui.widgets import SummaryBar

SIZE = (120, 36)
FIRST_SCREEN_MS = 500.0
INTERACTION_MS = 100.0
FILTERED = ListFilters(status="pending", refund_class="partial", location="chicago")
SEARCH = ListFilters(search="00ff")
T = TypeVar("T")


def timed(call: Callable[[], T]) -> tuple[T, float]:
    started = time.perf_counter()
    result = call()
    return result, (time.perf_counter() - started) * 1000


def spread(values: list[float]) -> str:
    return f"median {statistics.median(values):.1f} ms, max {max(values):.1f} ms"


# --- the store's reads ----------------------------------------------------------------------


def bench_store(store: AppStore, repeats: int, label: str) -> list[Figure]:
    first, deep, filtered, searched, summary = [], [], [], [], []
    for _ in range(repeats):
        page, ms = timed(store.page)
        first.append(ms)
        cursor = page.next_cursor
        for _ in range(50):
            page, ms = timed(lambda cursor=cursor: store.page(after=cursor))
            deep.append(ms)
            cursor = page.next_cursor
        matching, ms = timed(lambda: store.page(FILTERED))
        filtered.append(ms)
        found, ms = timed(lambda: store.page(SEARCH))
        searched.append(ms)
        _, ms = timed(store.summary)
        summary.append(ms)
    print(f"{label} store, {repeats} pass(es):")
    print(f"  first page: {spread(first)} (target <= {INTERACTION_MS:.0f})")
    print(f"  pages 2-51 by keyset: {spread(deep)} over {len(deep)} pages (target <= 100)")
    print(f"  filtered page ({matching.total:,} match): {spread(filtered)} (target <= 100)")
    print(f"  search '{SEARCH.search}' ({found.total:,} match): {spread(searched)} (context)")
    print(f"  summary: {spread(summary)} (context)")
    return [
        Figure(f"{label} store: first page, max", max(first), "ms", limit=INTERACTION_MS),
        Figure(
            f"{label} store: pages 2-51, median",
            statistics.median(deep),
            "ms",
            limit=INTERACTION_MS,
        ),
        Figure(f"{label} store: pages 2-51, max", max(deep), "ms", limit=INTERACTION_MS),
        Figure(f"{label} store: filtered page, max", max(filtered), "ms", limit=INTERACTION_MS),
        Figure(f"{label} store: search, max", max(searched), "ms", limit=None),
        Figure(f"{label} store: summary, max", max(summary), "ms", limit=None),
    ]


# --- the review app -------------------------------------------------------------------------


async def until(condition: Callable[[], bool], timeout: float = 120.0) -> None:
    """Poll the app's state from its own loop, a millisecond at a time."""
    deadline = time.perf_counter() + timeout
    while not condition():
        if time.perf_counter() > deadline:
            raise TimeoutError("the review app did not get there in time")
        await asyncio.sleep(0.001)


async def quiet(pilot: Any) -> None:
    """Until every worker has finished and its messages are handled (not timed)."""
    for _ in range(3):
        await pilot.pause()
        await pilot.app.workers.wait_for_complete()
    await pilot.pause()


async def refreshed(app: RefundReviewApp) -> None:
    """Until the messages queued so far are handled and the screen has been refreshed."""
    done = asyncio.Event()
    app.call_after_refresh(done.set)
    await done.wait()


async def key_ms(app: RefundReviewApp, screen: ReviewScreen, key: str) -> float:
    """From the key press to the new page on screen: loaded, shown and the screen refreshed.
    The key is posted as the terminal driver posts it (Pilot.press would add its idle waits)."""
    before = screen.page
    started = time.perf_counter()
    app.simulate_key(key)
    await until(lambda: screen.page is not before and not screen.page_loading)
    await refreshed(app)
    return (time.perf_counter() - started) * 1000


async def start_app(
    open_app_store: Callable[[], AppStore], presses: int, seconds: dict[str, list[float]]
) -> None:
    """One start of the app (the store opened afresh, as `casper review` does), then the keys."""
    started = time.perf_counter()
    with open_app_store() as store:
        app = RefundReviewApp(store, user="bench", refresh_seconds=3600)
        async with app.run_test(size=SIZE) as pilot:
            await until(lambda: isinstance(app.screen, ReviewScreen))
            screen = app.screen
            assert isinstance(screen, ReviewScreen)
            await until(lambda: screen.page is not None and bool(screen.page.rows))
            await refreshed(app)
            seconds["rows"].append((time.perf_counter() - started) * 1000)
            summary = screen.query_one(SummaryBar)
            await until(lambda: bool(str(summary.content)))
            await refreshed(app)
            seconds["complete"].append((time.perf_counter() - started) * 1000)
            await quiet(pilot)
            for _ in range(presses):
                seconds["next"].append(await key_ms(app, screen, "right_square_bracket"))
                await quiet(pilot)
            for _ in range(presses):  # any -> pending -> applied -> any -> ...
                seconds["filter"].append(await key_ms(app, screen, "s"))
                await quiet(pilot)


async def drive_app(
    open_app_store: Callable[[], AppStore], repeats: int, presses: int
) -> dict[str, list[float]]:
    seconds: dict[str, list[float]] = {"rows": [], "complete": [], "next": [], "filter": []}
    for _ in range(repeats):
        await start_app(open_app_store, presses, seconds)
    return seconds


def bench_app(
    open_app_store: Callable[[], AppStore], repeats: int, presses: int, label: str
) -> list[Figure]:
    seconds = asyncio.run(drive_app(open_app_store, repeats, presses))
    print(f"{label} review app, {repeats} start(s), {presses} presses of each key per start:")
    print(f"  start to first screen with rows: {spread(seconds['rows'])} (target <= 500)")
    print(f"  start to first screen with the summary too: {spread(seconds['complete'])}")
    print(f"  next page (]): {spread(seconds['next'])} (target <= 100)")
    print(f"  filter change (s, status): {spread(seconds['filter'])} (target <= 100)")
    figures = []
    for key, name, target in (
        ("rows", "first screen with rows", FIRST_SCREEN_MS),
        ("complete", "first screen incl. summary", FIRST_SCREEN_MS),
        ("next", "next page (])", INTERACTION_MS),
        ("filter", "filter change (s)", INTERACTION_MS),
    ):
        for how, pick in (("median", statistics.median), ("max", max)):
            figures.append(
                Figure(f"{label} app: {name}, {how}", pick(seconds[key]), "ms", limit=target)
            )
    return figures


# --- the stores -----------------------------------------------------------------------------


@contextmanager
def sqlite_store(rows: int) -> Iterator[Callable[[], AppStore]]:
    started = time.perf_counter()
    home = CasperHome(synthetic_sqlite_home(rows))  # removed at exit
    print(f"sqlite: built {rows:,} recommendations in {time.perf_counter() - started:.1f} s")
    yield lambda: open_store(home, None)


@contextmanager
def postgres_store(rows: int, admin_dsn: str) -> Iterator[Callable[[], AppStore]]:
    os.environ["CASPER_TEST_PG_DSN"] = admin_dsn
    dsn = postgres_dsn()  # a fresh database on that server, dropped at exit
    with tempfile.TemporaryDirectory(prefix="casper-bench-pg-") as root:
        home = CasperHome(Path(root))
        started = time.perf_counter()
        with open_store(home, dsn, clock=SteppingClock()) as built:
            sync_frames(built, *synthetic_frames(rows))
        print(
            f"postgresql: built {rows:,} recommendations in {time.perf_counter() - started:.1f} s"
        )
        yield lambda: open_store(home, dsn)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument(
        "--pg-dsn",
        default=os.environ.get("CASPER_TEST_PG_DSN"),
        help="a PostgreSQL server to benchmark too (default $CASPER_TEST_PG_DSN)",
    )
    parser.add_argument("--repeats", type=int, default=3, help="store passes and app starts")
    parser.add_argument("--presses", type=int, default=5, help="presses of each key per start")
    args = parser.parse_args()

    stores: list[tuple[str, Callable[..., Any]]] = [("sqlite", sqlite_store)]
    if args.pg_dsn:
        stores.append(("postgresql", lambda rows: postgres_store(rows, args.pg_dsn)))
    figures: list[Figure] = []
    for label, store_for in stores:
        with store_for(args.rows) as open_app_store:
            with open_app_store() as store:
                figures += bench_store(store, args.repeats, label)
            figures += bench_app(open_app_store, args.repeats, args.presses, label)
    print()
    print(f"{args.rows:,} recommendations, {os.cpu_count()} cores")
    report(figures)


if __name__ == "__main__":
    main()
