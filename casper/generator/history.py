"""`casper generate`: the history from (now - start_days_ago) up to now, one file per location-day.

A file holds the events before `now` of the orders created that day, sorted by time. Each file is
a pure function of (config, seed, day, now), so files are written by any number of worker processes,
in any order, byte-identically; a file already landed is skipped, so an interrupted run resumes.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from casper.engine import Lander
from casper.generator.kitchens import build_kitchens
from casper.generator.plan import SimulationPlan
from casper.generator.simulation import Kitchen

# Days simulated together in one task: enough to spread polars' cost per call over many days,
# few enough that the tasks keep every worker busy to the end.
DAYS_PER_TASK = 8


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


def _write_days(
    kitchen: Kitchen, days: list[dt.date], now_us: int, lander: Lander
) -> list[DayResult]:
    """Land the files of `days` not landed yet (simulated together: see Kitchen.days_ndjson)."""
    results = {}
    todo = []
    for day in days:
        name = history_file_name(kitchen.name, day)
        if lander.exists(name):
            results[day] = DayResult(kitchen.name, day, name, 0, 0, skipped=True)
        else:
            todo.append(day)
    for file in kitchen.days_ndjson(todo, before_us=now_us) if todo else []:
        if not file.events:
            results[file.day] = DayResult(kitchen.name, file.day, None, 0, 0, skipped=False)
            continue
        name = history_file_name(kitchen.name, file.day)
        lander.land(name, file.data)
        results[file.day] = DayResult(
            kitchen.name, file.day, name, file.events, file.orders, skipped=False
        )
    return [results[day] for day in days]


# Worker processes build their kitchens once (routes come from the cache the parent filled).
_worker: dict[str, object] = {}


def _init_worker(plan_json: str, roads_dir: str, lander: Lander) -> None:
    plan = SimulationPlan.from_json(plan_json)
    _worker["plan"] = plan
    _worker["kitchens"] = {
        k.name: k for k in build_kitchens(plan.configs, plan.now_us, Path(roads_dir))
    }
    _worker["lander"] = lander


def _work(location: str, days: list[dt.date]) -> list[DayResult]:
    plan: SimulationPlan = _worker["plan"]  # type: ignore[assignment]
    kitchen = _worker["kitchens"][location]  # type: ignore[index]
    return _write_days(kitchen, days, plan.now_us, _worker["lander"])  # type: ignore[arg-type]


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
    kitchens = build_kitchens(plan.configs, plan.now_us, roads_dir, notify)
    days = {k.name: history_days(plan, k) for k in kitchens}
    tasks = [
        (k, days[k.name][i : i + DAYS_PER_TASK])
        for k in kitchens
        for i in range(0, len(days[k.name]), DAYS_PER_TASK)
    ]
    if on_plan:
        on_plan(sum(len(d) for d in days.values()))
    lander.sweep()
    results: list[DayResult] = []

    def record(batch: list[DayResult]) -> None:
        for result in batch:
            results.append(result)
            if on_day:
                on_day(result)

    if workers <= 1 or len(tasks) <= 1:
        for kitchen, batch in tasks:
            record(_write_days(kitchen, batch, plan.now_us, lander))
    else:
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(
            max_workers=workers,
            mp_context=context,
            initializer=_init_worker,
            # the lander is pickled into each worker: it must hold no open connection
            initargs=(plan.to_json(), str(roads_dir), lander),
        ) as pool:
            futures = [pool.submit(_work, k.name, batch) for k, batch in tasks]
            for future in futures:
                record(future.result())
    return HistoryReport.of(results)
