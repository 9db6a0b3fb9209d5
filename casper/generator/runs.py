"""The generator's three ways of running, as the CLI and the stages call them."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from casper.catalog import home as home_catalog
from casper.config import resolve_selection
from casper.engine import Engine
from casper.errors import CasperError
from casper.generator.history import DayResult, HistoryReport, generate_history
from casper.generator.kitchens import build_kitchens
from casper.generator.live import live_streams
from casper.generator.plan import SimulationPlan, effective, load_plan, parse_now, save_plan
from casper.generator.reference import ReferenceDataset
from casper.generator.replay import (
    LOOP_STYLES,
    ReplaySource,
    dataset_name,
    open_dataset,
    replay_anchor,
)
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


#: events per file while a first run with --start-day lands its days at once
CATCHUP_ROWS = 50_000


def _refuse_a_seeded_catalog(home: CasperHome) -> None:
    """The generator draws orders from the shipped catalog: in a home whose catalog was seeded from
    a replayed dataset, its item and brand ids would join the dataset's names."""
    seeded = [n for n in home_catalog.seeded(home.root) if n in home_catalog.MENU_TABLES]
    if seeded:
        raise CasperError(
            f"{home_catalog.catalog_dir(home.root)}: this home's menu catalog was seeded from a "
            "replayed dataset, and generated orders use the shipped one: generate into another --home"
        )


def run_generate(
    engine: Engine,
    plan: SimulationPlan,
    *,
    workers: int = 1,
    notify: Callable[[str], None] | None = None,
    on_plan: Callable[[int], None] | None = None,
    on_day: Callable[[DayResult], None] | None = None,
) -> HistoryReport:
    _refuse_a_seeded_catalog(engine.home)
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
    _refuse_a_seeded_catalog(home)
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
    start_day: int | None = None,
    loop_style: str | None = None,
    now: dt.datetime | None = None,
    notify: Callable[[str], None] | None = None,
    on_flush: Callable[[StreamProgress], None] | None = None,
) -> PacedStream:
    """Replay `dataset` (casper.generator.replay); a reference dataset's dimension files seed the
    home's catalog first (casper.catalog.home), once."""
    if speed <= 0:
        raise CasperError(f"--speed must be above 0, not {speed:g}")
    if start_day is not None and start_day < 0:
        raise CasperError(f"--start-day must be 0 or more, not {start_day}")
    if loop_style is not None and loop_style not in LOOP_STYLES:
        raise CasperError(f"--loop-style is {' or '.join(LOOP_STYLES)}, not {loop_style!r}")
    home = engine.home
    source_dataset = open_dataset(dataset)
    if source_dataset.reference is not None:
        _seed_catalog(home, source_dataset.reference, notify)
    name = dataset_name(dataset)
    anchor = replay_anchor(
        home.generator / f"replay-{name}.meta.json",
        source_dataset.events,
        now or parse_now(None),
        start_day=start_day,
        loop_style=loop_style,
    )
    source = ReplaySource(source_dataset.events, anchor.shift_us, loop, anchor.loop_style)
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
        encode=source_dataset.encode,
    )
    catchup = anchor.catchup_us is not None and stream.clock_us < anchor.catchup_us
    span = RunSpan(home.generator / f"replay-{name}.span.json")
    # bounded from where this run stands once caught up (refused before anything lands)
    until_us = _until(
        until, sim_minutes, max(stream.clock_us, anchor.catchup_us or stream.clock_us), span
    )
    if catchup:
        # the reference's first run (START_DAY): days 0..N up to the present's time of day, at once
        stream.advance(anchor.catchup_us)
        if stream.flush(everything=True, rows=max(batch_rows, CATCHUP_ROWS)) and on_flush:
            on_flush(StreamProgress.of(stream))
        stream.save()
    run_streams([stream], stop=stop, until_us=until_us, on_flush=on_flush)
    span.close()  # ended or stopped, not killed: the next run is bounded from where it starts
    return stream


def _seed_catalog(
    home: CasperHome, dataset: ReferenceDataset, notify: Callable[[str], None] | None
) -> None:
    menu = [n for n in dataset.dimensions if n in home_catalog.MENU_TABLES]
    if menu and load_plan(home.generator) is not None:
        raise CasperError(
            f"{dataset.folder}: this home holds generated history on the shipped menu catalog; "
            "the dataset's menu would give its orders other names: replay it into another --home"
        )
    written = home_catalog.write_tables(home.root, dataset.dimensions, str(dataset.folder))
    if written and notify is not None:
        tables = ", ".join(f"simulator.{n}" for n in written)
        notify(
            f"seeded {tables} from {dataset.folder} ({home_catalog.catalog_dir(home.root)}): "
            "the next `casper pipeline` loads them"
        )


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
