"""The generator's three ways of running, as the CLI and the stages call them."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from casper.config import resolve_selection
from casper.engine import Engine
from casper.errors import CasperError
from casper.generator.history import DayResult, HistoryReport, generate_history
from casper.generator.kitchens import build_kitchens
from casper.generator.live import live_streams
from casper.generator.plan import SimulationPlan, effective, load_plan, parse_now, save_plan
from casper.generator.replay import ReplaySource, dataset_name, load_dataset, replay_shift
from casper.generator.simulation import from_us, to_us
from casper.generator.stream import PacedStream, RunSpan, StreamProgress, run_streams
from casper.home import CasperHome


def plan_history(
    home: CasperHome,
    *,
    locations: str | None = None,
    config_files: Sequence[Path] = (),
    now: str | None = None,
    days: int | None = None,
    seed: int | None = None,
) -> SimulationPlan:
    """The plan a generate run follows: the saved one, extended by any new locations.
    `locations` and `config_files` are --locations (None: not given) and --config
    (casper.config.resolve_selection)."""
    selection = resolve_selection(locations, config_files)
    chosen = list(selection.configs)
    saved = load_plan(home.generator)
    if saved is not None:
        # continuing a simulation: a location keeps the settings it was generated with unless the
        # command line asks for others (which merged_with then refuses); a --config file's
        # location keeps its --days and --seed, but a file that changed anything else is refused
        kept = {c.location_name: c for c in saved.configs}
        if days is None and seed is None:
            chosen = [
                effective(c, kept[name].start_days_ago, kept[name].random_seed)
                if (name := c.location_name) in selection.from_files and name in kept
                else kept.get(name, c)
                for c in chosen
            ]
    requested = SimulationPlan(
        now=parse_now(now) if now or saved is None else saved.now,
        configs=tuple(effective(c, days, seed) for c in chosen),
    )
    plan = requested if saved is None else saved.merged_with(requested)
    return plan.validated()


def run_generate(
    engine: Engine,
    plan: SimulationPlan,
    *,
    workers: int = 1,
    notify: Callable[[str], None] | None = None,
    on_plan: Callable[[int], None] | None = None,
    on_day: Callable[[DayResult], None] | None = None,
) -> HistoryReport:
    home = engine.home.ensure()
    save_plan(home.generator, plan)
    return generate_history(
        plan,
        engine.lander(),
        home.roads,
        workers=workers,
        notify=notify,
        on_plan=on_plan,
        on_day=on_day,
    )


def run_live(
    engine: Engine,
    plan: SimulationPlan,
    stop: threading.Event,
    *,
    speed: float | None = None,
    until: dt.datetime | None = None,
    sim_minutes: float | None = None,
    batch_rows: int | None = None,
    batch_seconds: float | None = None,
    notify: Callable[[str], None] | None = None,
    on_flush: Callable[[StreamProgress], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> list[PacedStream]:
    home = engine.home
    kitchens = build_kitchens(plan.configs, plan.now_us, home.roads, notify)
    lander = engine.lander()
    lander.sweep()
    streams = live_streams(
        plan,
        kitchens,
        lander,
        home.generator,
        speed=speed,
        batch_rows=batch_rows,
        batch_seconds=batch_seconds,
    )
    span = RunSpan(home.generator / "live.span.json")
    until_us = _until(until, sim_minutes, min(s.clock_us for s in streams), span, notify)
    run_streams(streams, stop=stop, until_us=until_us, on_flush=on_flush, clock=clock)
    span.close()  # ended or stopped, not killed: the next run is bounded from where it starts
    return streams


def run_replay(
    engine: Engine,
    dataset: Path,
    stop: threading.Event,
    *,
    speed: float,
    loop: bool,
    batch_rows: int,
    batch_seconds: float,
    until: dt.datetime | None = None,
    sim_minutes: float | None = None,
    on_flush: Callable[[StreamProgress], None] | None = None,
) -> PacedStream:
    if speed <= 0:
        raise CasperError(f"--speed must be above 0, not {speed:g}")
    home = engine.home
    events = load_dataset(dataset)
    name = dataset_name(dataset)
    shift = replay_shift(
        home.generator / f"replay-{name}.meta.json", int(events["ts_us"][0]), parse_now(None)
    )
    source = ReplaySource(events, shift, loop)
    lander = engine.lander()
    lander.sweep()
    stream = PacedStream(
        prefix=f"replay-{name}",
        source=source,
        lander=lander,
        checkpoint_path=home.generator / f"replay-{name}.json",
        start=source.start,
        speed=speed,
        batch_rows=batch_rows,
        batch_seconds=batch_seconds,
    )
    span = RunSpan(home.generator / f"replay-{name}.span.json")
    until_us = _until(until, sim_minutes, stream.clock_us, span)
    run_streams([stream], stop=stop, until_us=until_us, on_flush=on_flush)
    span.close()  # ended or stopped, not killed: the next run is bounded from where it starts
    return stream


def _until(
    until: dt.datetime | None,
    sim_minutes: float | None,
    clock_us: int,
    span: RunSpan,
    notify: Callable[[str], None] | None = None,
) -> int | None:
    """Where the run stops (None: when stopped). --sim-minutes counts from `clock_us`, where this
    run starts, unless it restarts a killed run with the same minutes: that one's end holds."""
    if until is not None and sim_minutes is not None:
        raise CasperError("give --until or --sim-minutes, not both")
    if until is not None and to_us(until) <= clock_us:
        raise CasperError(
            f"--until {until.isoformat(sep=' ')} is not after where the simulation stands "
            f"({from_us(clock_us).isoformat(sep=' ')}): nothing to run"
        )
    if sim_minutes is None:
        span.close()  # a killed bounded run's end does not bound this one
        return None if until is None else to_us(until)
    resumed = span.recorded(sim_minutes)
    if resumed is not None:
        if notify is not None:
            notify(
                f"continuing a run of {sim_minutes:g} simulated minutes that was killed: it ends "
                f"at {from_us(resumed).isoformat(sep=' ')}"
            )
        return resumed
    return span.record(sim_minutes, clock_us + int(sim_minutes * 60_000_000))
