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

import polars as pl

from casper.engine import Lander
from casper.generator import scenarios
from casper.generator.kitchens import build_kitchens
from casper.generator.plan import SimulationPlan
from casper.generator.simulation import Kitchen


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


def history_of_day(kitchen: Kitchen, day: dt.date, now_us: int) -> pl.DataFrame:
    events = kitchen.simulate_day(day)
    return events.filter(pl.col("ts_us") < now_us)


def _write_day(kitchen: Kitchen, day: dt.date, now_us: int, lander: Lander) -> DayResult:
    name = history_file_name(kitchen.name, day)
    if lander.exists(
        scenarios.last_file(name, kitchen.config.dq_scenarios, kitchen.seed, kitchen.name, day)
    ):
        return DayResult(kitchen.name, day, name, 0, 0, skipped=True)
    events = history_of_day(kitchen, day, now_us)
    if events.is_empty():
        return DayResult(kitchen.name, day, None, 0, 0, skipped=False)
    for file_name, payload in scenarios.landing_files(
        name, events, kitchen.config.dq_scenarios, kitchen.seed, kitchen.name, day
    ).items():
        lander.land(file_name, payload)
    orders = events["order_id"].n_unique()
    return DayResult(kitchen.name, day, name, events.height, orders, skipped=False)


# Worker processes build their kitchens once (routes come from the cache the parent filled).
_worker: dict[str, object] = {}


def _init_worker(plan_json: str, roads_dir: str, lander: Lander) -> None:
    plan = SimulationPlan.from_json(plan_json)
    _worker["plan"] = plan
    _worker["kitchens"] = {
        k.name: k for k in build_kitchens(plan.configs, plan.now_us, Path(roads_dir))
    }
    _worker["lander"] = lander


def _work(location: str, day: dt.date) -> DayResult:
    plan: SimulationPlan = _worker["plan"]  # type: ignore[assignment]
    kitchen = _worker["kitchens"][location]  # type: ignore[index]
    return _write_day(kitchen, day, plan.now_us, _worker["lander"])  # type: ignore[arg-type]


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
    tasks = [(k, day) for k in kitchens for day in history_days(plan, k)]
    if on_plan:
        on_plan(len(tasks))
    lander.sweep()
    results: list[DayResult] = []

    def record(result: DayResult) -> None:
        results.append(result)
        if on_day:
            on_day(result)

    if workers <= 1 or len(tasks) <= 1:
        for kitchen, day in tasks:
            record(_write_day(kitchen, day, plan.now_us, lander))
    else:
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(
            max_workers=workers,
            mp_context=context,
            initializer=_init_worker,
            # the lander is pickled into each worker: it must hold no open connection
            initargs=(plan.to_json(), str(roads_dir), lander),
        ) as pool:
            futures = [pool.submit(_work, k.name, day) for k, day in tasks]
            for future in futures:
                record(future.result())
    return HistoryReport.of(results)
