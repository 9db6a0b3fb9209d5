"""`casper generate`: the history from (now - start_days_ago) up to now, one file per location-day.

A file holds the events before `now` of the orders created that day, sorted by time. Each file is
a pure function of (config, seed, day, now), so files are written by any number of worker processes,
in any order, byte-identically; a file already landed is skipped, so an interrupted run resumes.

With several workers, this process works too: it takes tasks (a few days of one kitchen) from the
same list as the worker processes it starts, which join in once they have imported and built their
kitchens, so nothing waits for them to start.
"""

from __future__ import annotations

import datetime as dt
import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import (
    FIRST_COMPLETED,
    Future,
    ProcessPoolExecutor,
    ThreadPoolExecutor,
    wait,
)
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from casper.generator import scenarios
from casper.generator.kitchens import build_kitchens
from casper.generator.plan import SimulationPlan
from casper.generator.simulation import Kitchen
from casper.generator.workers import keep_freed_memory, stop_helpers, take_helpers

if TYPE_CHECKING:
    from casper.engine import Lander

# Days simulated together in one task: enough to spread polars' cost per call over many days,
# few enough that the tasks keep every worker busy to the end.
DAYS_PER_TASK = 16
# Files landed at once: each waits for its bytes to reach the disk (fsync) before it is renamed,
# and several waits overlap.
LANDING_THREADS = 4


def history_file_name(location: str, day: dt.date) -> str:
    return f"history-{location}-{day:%Y%m%d}.ndjson"


@dataclass(frozen=True)
class DayResult:
    location: str
    day: dt.date
    file: str | None
    events: int
    orders: int
    skipped: bool


@dataclass(frozen=True)
class HistoryReport:
    files_written: int
    files_skipped: int
    events: int
    orders: int

    @classmethod
    def of(cls, results: list[DayResult]) -> HistoryReport:
        written = [r for r in results if r.file and not r.skipped]
        return cls(
            files_written=len(written),
            files_skipped=sum(r.skipped for r in results),
            events=sum(r.events for r in written),
            orders=sum(r.orders for r in written),
        )


def history_days(plan: SimulationPlan, kitchen: Kitchen) -> list[dt.date]:
    first = plan.sim_start(kitchen.config).date()
    return [first + dt.timedelta(days=i) for i in range((plan.now.date() - first).days + 1)]


_landing: dict[int, ThreadPoolExecutor] = {}


def _landing_pool() -> ThreadPoolExecutor:
    """This process's landing threads (a worker process makes its own)."""
    pool = _landing.get(os.getpid())
    if pool is None:
        pool = _landing[os.getpid()] = ThreadPoolExecutor(LANDING_THREADS, "casper-landing")
    return pool


def _day_file(kitchen: Kitchen, day: dt.date) -> str:
    """The file a location-day lands last: once it exists, the day is landed (scenarios.py)."""
    name = history_file_name(kitchen.name, day)
    return scenarios.last_file(name, kitchen.config.dq_scenarios, kitchen.seed, kitchen.name, day)


def _write_scenario_days(
    kitchen: Kitchen, days: list[dt.date], now_us: int, lander: Lander
) -> list[DayResult]:
    """A kitchen with data-quality scenarios: each day's frame, landed as the scenarios' files."""
    import polars as pl

    results = []
    for day in days:
        events = kitchen.simulate_day(day).filter(pl.col("ts_us") < now_us)
        if events.is_empty():
            results.append(DayResult(kitchen.name, day, None, 0, 0, skipped=False))
            continue
        name = history_file_name(kitchen.name, day)
        files = scenarios.landing_files(
            name, events, kitchen.config.dq_scenarios, kitchen.seed, kitchen.name, day
        )
        for file_name, payload in files.items():  # in order: the last one marks the day landed
            lander.land(file_name, payload)
        orders = events["order_id"].n_unique()
        results.append(DayResult(kitchen.name, day, name, events.height, orders, skipped=False))
    return results


def _write_days(
    kitchen: Kitchen, days: list[dt.date], now_us: int, lander: Lander
) -> list[DayResult]:
    """Simulate `days` together (Kitchen.days_ndjson) and land their files, all before returning."""
    dq = kitchen.config.dq_scenarios
    if dq is not None and dq.any:
        return _write_scenario_days(kitchen, days, now_us, lander)
    files = [f for f in kitchen.days_ndjson(days, before_us=now_us) if f.events]
    names = {f.day: history_file_name(kitchen.name, f.day) for f in files}
    landings = [_landing_pool().submit(lander.land, names[f.day], f.data) for f in files]
    for landing in landings:
        landing.result()
    written = {f.day: f for f in files}
    return [
        DayResult(kitchen.name, day, names[day], written[day].events, written[day].orders, False)
        if day in written
        else DayResult(kitchen.name, day, None, 0, 0, skipped=False)
        for day in days
    ]


# A worker process builds its kitchens once per plan (routes come from the cache the parent filled).
_worker: dict[str, object] = {}


def _work(
    plan_json: str, roads_dir: str, lander: Lander, location: str, days: list[dt.date]
) -> list[DayResult]:
    if _worker.get("plan_json") != plan_json:
        keep_freed_memory()
        plan = SimulationPlan.from_json(plan_json)
        kitchens = build_kitchens(plan.configs, plan.now_us, Path(roads_dir))
        _worker.update(plan_json=plan_json, plan=plan, kitchens={k.name: k for k in kitchens})
    plan: SimulationPlan = _worker["plan"]  # type: ignore[no-redef]
    kitchen = _worker["kitchens"][location]  # type: ignore[index]
    return _write_days(kitchen, days, plan.now_us, lander)


class _Tasks:
    """The tasks left, taken one at a time by this process and by the worker feeder."""

    def __init__(self, tasks: list[tuple[str, list[dt.date]]]) -> None:
        self._tasks: Iterator[tuple[str, list[dt.date]]] = iter(tasks)
        self._lock = threading.Lock()
        self.stopped = False

    def take(self) -> tuple[str, list[dt.date]] | None:
        with self._lock:
            return None if self.stopped else next(self._tasks, None)

    def stop(self) -> None:
        with self._lock:
            self.stopped = True


def _feed(
    pool: ProcessPoolExecutor, helpers: int, context: tuple, tasks: _Tasks, record, failed: list
) -> None:
    """Keep each worker process one task ahead until the tasks run out."""
    running: set[Future] = set()
    try:
        while True:
            while len(running) < 2 * helpers and (task := tasks.take()) is not None:
                running.add(pool.submit(_work, *context, *task))
            if not running:
                return
            done, running = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                record(future.result())
    except BaseException as exc:
        failed.append(exc)
        tasks.stop()
        for future in running:
            future.cancel()


def generate_history(
    plan: SimulationPlan,
    lander: Lander,
    roads_dir: Path,
    *,
    workers: int = 1,
    notify: Callable[[str], None] | None = None,
    on_day: Callable[[DayResult], None] | None = None,
    on_plan: Callable[[int], None] | None = None,
) -> HistoryReport:
    kitchens = {k.name: k for k in build_kitchens(plan.configs, plan.now_us, roads_dir, notify)}
    days = {name: history_days(plan, k) for name, k in kitchens.items()}
    if on_plan:
        on_plan(sum(len(d) for d in days.values()))
    lander.sweep()
    landed = {f.name for f in lander.list()}
    results: list[DayResult] = []
    lock = threading.Lock()

    def record(batch: list[DayResult]) -> None:
        with lock:
            for result in batch:
                results.append(result)
                if on_day:
                    on_day(result)

    todo: dict[str, list[dt.date]] = {}
    for name, kitchen_days in days.items():
        for day in kitchen_days:
            file = _day_file(kitchens[name], day)
            if file in landed:
                record([DayResult(name, day, file, 0, 0, skipped=True)])
            else:
                todo.setdefault(name, []).append(day)
    # the latest days first: they have the most orders, and the small ones even out the end
    tasks = sorted(
        (
            (name, batch[i : i + DAYS_PER_TASK])
            for name, batch in todo.items()
            for i in range(0, len(batch), DAYS_PER_TASK)
        ),
        key=lambda task: task[1][-1],
        reverse=True,
    )
    queue = _Tasks(tasks)

    def work_here() -> None:
        while (task := queue.take()) is not None:
            name, batch = task
            record(_write_days(kitchens[name], batch, plan.now_us, lander))

    if workers <= 1 or len(tasks) <= 1:
        stop_helpers()
        work_here()
        return HistoryReport.of(results)
    failed: list[BaseException] = []
    helpers = workers - 1
    # the lander is pickled into each task: it must hold no open connection
    context = (plan.to_json(), str(roads_dir), lander)
    with take_helpers(helpers) as pool:
        feeder = threading.Thread(
            target=_feed, args=(pool, helpers, context, queue, record, failed), daemon=True
        )
        feeder.start()
        try:
            work_here()
        except BaseException:
            queue.stop()
            raise
        finally:
            feeder.join()
    if failed:
        raise failed[0]
    return HistoryReport.of(results)
