"""The `casper` command: one screen of commands, each a thin shell over the domain modules."""

from __future__ import annotations

import functools
import json
import os
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from casper.collector import skip_final_collections
from casper.engine import Engine, engine_names, open_engine
from casper.errors import CasperError
from casper.home import CasperHome
from casper.settings import DEFAULT_ENGINE, Settings

app = typer.Typer(
    name="casper",
    help="Casper's Kitchens on your laptop: generate ghost-kitchen orders, refine them, review refunds.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
roads_app = typer.Typer(help="Road networks used to route deliveries.", no_args_is_help=True)
app.add_typer(roads_app, name="roads")
refunds_app = typer.Typer(
    help="The refund model: train it, score deliveries with it.", no_args_is_help=True
)
app.add_typer(refunds_app, name="refunds")

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

HomeOption = Annotated[
    Path | None,
    typer.Option(
        "--home", help="Where all local state lives [default: $CASPER_HOME, else ./.casper]."
    ),
]
LocationsOption = Annotated[
    str | None,
    typer.Option(
        "--locations",
        "-l",
        help="Config names, comma-separated (sanfrancisco,chicago), or 'all'; a --config file's "
        "location_name counts as one. Default: all, or only the --config files if any.",
        show_default=False,
    ),
]
ConfigOption = Annotated[
    list[Path] | None,
    typer.Option(
        "--config",
        help="A location config file, e.g. the reference's own (repeatable): it runs, in place "
        "of the bundled config of the same location_name.",
    ),
]
EngineOption = Annotated[
    str | None,
    typer.Option(
        "--engine",
        help=f"{' | '.join(engine_names())}: duckdb is embedded, spark is local Spark (parity) "
        "[default: $CASPER_ENGINE, else duckdb].",
        show_default=False,
    ),
]
AppStoreOption = Annotated[
    str | None,
    typer.Option(
        "--app-store",
        help="PostgreSQL DSN for the app store (the Lakebase stand-in) "
        "[default: $CASPER_APP_STORE, else embedded, no server].",
        show_default=False,
    ),
]
CatalogOption = Annotated[
    str | None,
    typer.Option(
        help="CATALOG of the reference job, for the databricks engine "
        "[default: $CASPER_CATALOG, else caspers].",
        show_default=False,
    ),
]
EventsVolumeOption = Annotated[
    str | None,
    typer.Option(
        help="EVENTS_VOLUME of the reference job [default: $CASPER_EVENTS_VOLUME, else events].",
        show_default=False,
    ),
]
SimulatorSchemaOption = Annotated[
    str | None,
    typer.Option(
        help="SIMULATOR_SCHEMA of the reference job "
        "[default: $CASPER_SIMULATOR_SCHEMA, else simulator].",
        show_default=False,
    ),
]
DaysOption = Annotated[
    int | None, typer.Option(min=0, help="Days of history (overrides start_days_ago).")
]
SeedOption = Annotated[int | None, typer.Option(help="Random seed (overrides random_seed).")]
SimMinutesOption = Annotated[
    float | None,
    typer.Option(
        "--sim-minutes",
        min=0,
        metavar="M",
        help="Stop after M simulated minutes of the business, counted from where this run starts "
        "(where the last one stopped). A run restarted after it was killed (kill -9, a crash) "
        "with the same M ends where the killed run would have.",
    ),
]
NowOption = Annotated[
    str | None, typer.Option("--now", help="The simulation's present, ISO UTC [default: now].")
]


def friendly(command: Callable[..., Any]) -> Callable[..., Any]:
    """Input errors become one red line and exit code 2, never a traceback."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except CasperError as exc:
            # escaped: an error naming an extra ('caspers-kitchens[databricks]') is not markup
            err.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None
        except OSError as exc:  # a read-only or full home, a missing folder: one line, no traceback
            where = f": {exc.filename}" if exc.filename else ""
            err.print(
                f"[bold red]error:[/] {escape(exc.strerror or str(exc))}{escape(where)}",
                highlight=False,
                soft_wrap=True,
            )
            raise typer.Exit(2) from None

    return wrapper


@app.callback()
def main_options(
    ctx: typer.Context,
    home: HomeOption = None,
    catalog: CatalogOption = None,
    events_volume: EventsVolumeOption = None,
    simulator_schema: SimulatorSchemaOption = None,
) -> None:
    ctx.obj = {
        "home": home,
        "catalog": catalog,
        "events_volume": events_volume,
        "simulator_schema": simulator_schema,
    }


def _settings(ctx: typer.Context, **given: Any) -> Settings:
    """The settings: the options given on the command line (a command's own over the global ones),
    else CASPER_* variables, else what `casper up` recorded for this home's deployment, else the
    defaults."""
    from casper.manifest import Manifest

    chosen = dict(ctx.obj or {})
    chosen.update({key: value for key, value in given.items() if value is not None})
    settings = Settings.load(**chosen)
    recorded = Manifest.load(settings.home).settings
    fallback = {
        key: value
        for key, value in recorded.items()
        if chosen.get(key) is None and f"CASPER_{key.upper()}" not in os.environ
    }
    return Settings.load(**(chosen | fallback)) if fallback else settings


def _home(ctx: typer.Context) -> CasperHome:
    return CasperHome(_settings(ctx).home)


def _engine(
    ctx: typer.Context, engine: str | None = None, app_store: str | None = None, **given: Any
) -> Engine:
    """The engine the options (or CASPER_ENGINE) name, bound to the settings."""
    return open_engine(_settings(ctx, engine=engine, app_store=app_store, **given))


def _notice(message: str) -> None:
    err.print(f"[yellow]note:[/] {message}", highlight=False, soft_wrap=True)


def _stop_on_signals() -> threading.Event:
    """Ctrl-C and SIGTERM ask the running loop to finish its batch and stop."""
    stop = threading.Event()

    def request_stop(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    return stop


def _parse_until(text: str | None):
    from casper.generator.plan import parse_now

    return parse_now(text, "--until") if text else None


@app.command()
@friendly
def generate(
    ctx: typer.Context,
    locations: LocationsOption = None,
    now: NowOption = None,
    days: DaysOption = None,
    seed: SeedOption = None,
    config: ConfigOption = None,
    workers: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Processes generating, this one included (default: the CPU cores, at most 4).",
            show_default=False,
        ),
    ] = None,
    engine: EngineOption = None,
) -> None:
    """Generate order history up to now into the landing folder (one file per location-day)."""
    from casper.generator.workers import default_workers, start_helpers

    workers = workers or default_workers()
    start_helpers(workers - 1)  # they import the generator while this process does
    try:
        _generate(ctx, locations, now, days, seed, config, workers, engine)
    finally:
        from casper.generator.workers import stop_helpers

        stop_helpers()


def _generate(
    ctx: typer.Context,
    locations: str,
    now: str | None,
    days: int | None,
    seed: int | None,
    config: list[Path] | None,
    workers: int,
    engine: str | None,
) -> None:
    from casper.generator.runs import plan_history, run_generate
    from casper.generator.workers import keep_freed_memory

    keep_freed_memory()  # this process ends when the history is generated
    bound = _engine(ctx, engine)
    home = bound.home
    plan = plan_history(
        home, locations=locations, config_files=config or (), now=now, days=days, seed=seed
    )
    names = ", ".join(c.location_name for c in plan.configs)
    with Progress(
        TextColumn("[bold]generating[/] {task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    ) as progress:
        task = progress.add_task(names, total=None)
        report = run_generate(
            bound,
            plan,
            workers=workers,
            notify=_notice,
            on_plan=lambda total: progress.update(task, total=total),
            on_day=lambda result: progress.advance(task),
        )
    out.print(
        f"history up to {plan.now.isoformat(sep=' ')} for {names}: "
        f"{report.orders:,} orders, {report.events:,} events in {report.files_written} new files"
        + (f" ({report.files_skipped} already landed)" if report.files_skipped else "")
        + f" -> {home.landing}",
        highlight=False,
    )


@app.command()
@friendly
def live(
    ctx: typer.Context,
    locations: LocationsOption = None,
    speed: Annotated[
        float | None,
        typer.Option(min=0.001, help="Simulated seconds per second (overrides speed_up)."),
    ] = None,
    until: Annotated[
        str | None, typer.Option(help="Stop at this simulated time (ISO UTC).")
    ] = None,
    sim_minutes: SimMinutesOption = None,
    batch_rows: Annotated[
        int | None, typer.Option(min=1, help="Events per file (overrides batch_rows).")
    ] = None,
    batch_seconds: Annotated[
        float | None,
        typer.Option(min=0.001, help="Flush at least this often (overrides batch_seconds)."),
    ] = None,
    config: ConfigOption = None,
    engine: EngineOption = None,
) -> None:
    """Continue the simulation from its now into the future; Ctrl-C stops, running it again resumes."""
    from casper.config import resolve_locations
    from casper.generator.plan import SimulationPlan, load_plan
    from casper.generator.runs import plan_history, run_generate, run_live
    from casper.generator.simulation import from_us

    until_at = _parse_until(until)  # a bad value is refused before anything runs
    bound = _engine(ctx, engine)
    home = bound.home
    plan = load_plan(home.generator)
    if plan is None:
        _notice("no history yet: generating it first")
        plan = plan_history(home, locations=locations, config_files=config or ())
        run_generate(bound, plan, notify=_notice)
    if locations is not None or config:
        # refused, as by generate, when a --config file differs from what its location was made with
        plan_history(home, locations=locations, config_files=config or ())
        wanted = {c.location_name for c in resolve_locations(locations, config or ())}
        missing = sorted(wanted - {c.location_name for c in plan.configs})
        if missing:
            raise CasperError(
                f"no history for {', '.join(missing)}: run `casper generate --locations "
                f"{','.join(missing)}` first, so live continues the same world"
            )
        plan = SimulationPlan(
            now=plan.now, configs=tuple(c for c in plan.configs if c.location_name in wanted)
        )
    stop = _stop_on_signals()
    out.print(
        f"live from {plan.now.isoformat(sep=' ')} for {', '.join(c.location_name for c in plan.configs)}; Ctrl-C to stop",
        highlight=False,
    )
    streams = run_live(
        bound,
        plan,
        stop,
        speed=speed,
        until=until_at,
        sim_minutes=sim_minutes,
        batch_rows=batch_rows,
        batch_seconds=batch_seconds,
        notify=_notice,
        on_flush=lambda p: err.print(
            f"{p.prefix}: simulated {p.sim_time[:19]}, {p.landed_events:,} events landed",
            highlight=False,
        ),
    )
    for s in streams:
        resume = from_us(s.position.ts_us).isoformat(sep=" ")
        out.print(
            f"{s.prefix}: {s.landed_events:,} events landed this run; resumes after {resume}",
            highlight=False,
        )


@app.command()
@friendly
def replay(
    ctx: typer.Context,
    dataset: Annotated[
        Path,
        typer.Argument(
            help="A folder of .ndjson/.json event files, or one file; or the reference's canonical "
            "dataset (a folder with events.parquet, locations.parquet and its dimension files)."
        ),
    ],
    speed: Annotated[float, typer.Option(help="Simulated seconds per second.")] = 60.0,
    start_day: Annotated[
        int | None,
        typer.Option(
            "--start-day",
            min=0,
            metavar="N",
            help="The reference's START_DAY: the dataset's day N is today; the first run lands "
            "days 0..N up to now's time of day at once, then goes on at --speed.",
        ),
    ] = None,
    loop: Annotated[
        bool, typer.Option("--loop", help="Start over after the end, with suffixed order ids.")
    ] = False,
    loop_style: Annotated[
        str | None,
        typer.Option(
            "--loop-style",
            metavar="casper|reference",
            help="casper: loops of the dataset's span, -1, -2, ... on order and event ids; "
            "reference: loops of its days, -L1, -L2, ... on order ids [default: casper].",
            show_default=False,
        ),
    ] = None,
    until: Annotated[
        str | None, typer.Option(help="Stop at this (shifted) simulated time, ISO UTC.")
    ] = None,
    sim_minutes: SimMinutesOption = None,
    batch_rows: Annotated[int, typer.Option(min=1)] = 10,
    batch_seconds: Annotated[float, typer.Option(min=0.001)] = 1.0,
    now: Annotated[
        str | None,
        typer.Option(
            "--now", help="The present a first run anchors the replay to, ISO UTC [default: now]."
        ),
    ] = None,
    engine: EngineOption = None,
) -> None:
    """Replay a stored dataset at any speed, shifted to the present; resumable."""
    from casper.generator.plan import parse_now
    from casper.generator.runs import run_replay

    present = parse_now(now) if now else None
    bound = _engine(ctx, engine)
    stop = _stop_on_signals()
    stream = run_replay(
        bound,
        dataset,
        stop,
        speed=speed,
        loop=loop,
        batch_rows=batch_rows,
        batch_seconds=batch_seconds,
        until=_parse_until(until),
        sim_minutes=sim_minutes,
        start_day=start_day,
        loop_style=loop_style,
        now=present,
        notify=_notice,
        on_flush=lambda p: err.print(
            f"{p.prefix}: simulated {p.sim_time[:19]}, {p.landed_events:,} events landed",
            highlight=False,
        ),
    )
    out.print(
        f"{stream.prefix}: {stream.landed_events:,} events landed this run ({stream.files} files in all)",
        highlight=False,
    )


def _tick_line(report) -> str:
    return (
        f"{report.files_ingested} new files, +{report.bronze_rows_added:,} bronze, "
        f"+{report.quarantined_added:,} quarantined ({report.bronze_rows_total:,} bronze, "
        f"{report.quarantined_total:,} quarantined in all) in {report.elapsed_s:.1f}s"
    )


@app.command()
@friendly
def pipeline(
    ctx: typer.Context,
    watch: Annotated[
        bool, typer.Option("--watch", help="Keep processing new files until Ctrl-C.")
    ] = False,
    every: Annotated[float, typer.Option(min=0.1, help="Seconds between watch ticks.")] = 5.0,
    engine: EngineOption = None,
    app_store: AppStoreOption = None,
) -> None:
    """Refine landed events bronze -> silver -> gold (SQLMesh); with --watch also score and sync."""
    from casper.landing import ignored_note
    from casper.pipeline import PipelineError, run_pipeline, watch_pipeline

    bound = _engine(ctx, engine, app_store)
    bound.home.ensure()
    if not watch:
        with err.status(f"[bold]pipeline[/] ({bound.name})") as spinner:
            try:
                report = run_pipeline(bound, on_progress=lambda line: spinner.update(line))
            except PipelineError as exc:
                raise CasperError(f"pipeline failed: {exc}") from None
        out.print(f"pipeline ({bound.name}): {_tick_line(report)}", highlight=False)
        if note := ignored_note(report.ignored_files):
            _notice(note)
        return
    from casper.downstream import Downstream  # scoring and sync: MLflow, only when watching

    downstream = Downstream(bound, notify=_notice)
    stop = _stop_on_signals()
    noted: list[tuple[str, ...]] = [()]  # the ignored entries last noted: a note when they change

    def on_tick(report) -> None:
        extra = downstream.run()
        out.print(
            f"tick: {_tick_line(report)}; scored {extra.scored:,}, synced {extra.synced:,}",
            highlight=False,
        )
        if report.ignored_files != noted[0]:
            noted[0] = report.ignored_files
            if note := ignored_note(report.ignored_files):
                _notice(note)

    out.print(
        f"watching {bound.home.landing} every {every:g}s ({bound.name}); Ctrl-C to stop",
        highlight=False,
    )
    watch_pipeline(
        bound, every, stop, on_tick,
        on_error=lambda exc: err.print(f"[red]tick failed:[/] {exc}", highlight=False),
    )  # fmt: skip


@refunds_app.command("train")
@friendly
def refunds_train(
    ctx: typer.Context,
    window_days: Annotated[
        float, typer.Option(min=0.01, help="Days of recent deliveries to learn from.")
    ] = 1.0,
    from_decisions: Annotated[
        bool,
        typer.Option(
            "--from-decisions", help="Learn from the manager's decisions in the app store."
        ),
    ] = False,
    engine_name: EngineOption = None,
    app_store: AppStoreOption = None,
) -> None:
    """Fit the refund model, log it to MLflow, register a version and make it champion."""
    from casper.refunds.service import latest_decisions, train, train_from_decisions

    engine = _engine(ctx, engine_name, app_store)
    if not from_decisions:
        with err.status("[bold]training[/] the refund model"):
            report = train(engine, window_days=window_days)
        m = report.metrics
        out.print(
            f"{report.version.name} version {report.version.version} is champion: "
            f"{m['share_none']:.0%} none, {m['share_partial']:.0%} partial, {m['share_full']:.0%} full "
            f"over {int(m['orders_evaluated']):,} orders, ${m['suggested_usd_total']:,.2f} suggested",
            highlight=False,
        )
        return
    with engine.open_app_store() as store:
        decisions = latest_decisions(store.decisions())
    with err.status("[bold]training[/] on the manager's decisions"):
        learned = train_from_decisions(engine, decisions, window_days=window_days)
    c = learned.comparison
    verdict = "promoted to champion" if learned.promoted else "kept the current champion"
    out.print(
        f"{learned.version.name} version {learned.version.version}: held-out accuracy "
        f"{c.learned_accuracy:.1%} vs rules {c.rule_accuracy:.1%} on {c.test_size} decisions: {verdict}",
        highlight=False,
    )


@refunds_app.command("score")
@friendly
def refunds_score(ctx: typer.Context, engine: EngineOption = None) -> None:
    """Score every delivered order the champion has not scored yet (spark: a Structured Streaming job)."""
    from casper.refunds.service import ChampionScorer

    report = ChampionScorer(_engine(ctx, engine)).score_pending()
    skipped = (
        f"; {report.unscorable:,} unscorable (no usable time or total)" if report.unscorable else ""
    )
    out.print(
        f"scored {report.scored:,} orders with model version {report.version}{skipped}",
        highlight=False,
    )


@app.command()
@friendly
def sync(
    ctx: typer.Context, app_store: AppStoreOption = None, engine_name: EngineOption = None
) -> None:
    """Copy new and changed recommendations into the app store (reverse ETL)."""
    from casper.reverse_etl import sync_to_store

    engine = _engine(ctx, engine_name, app_store)
    with engine.open_app_store() as store:
        report = sync_to_store(engine, store)
    out.print(
        f"synced {report.upserted:,} recommendations ({report.unchanged:,} unchanged)",
        highlight=False,
    )


@app.command()
@friendly
def review(
    ctx: typer.Context,
    app_store: AppStoreOption = None,
    user: Annotated[
        str | None, typer.Option(help="Who decides [default: your login name].")
    ] = None,
    web: Annotated[
        bool, typer.Option("--web", help="Serve the app to browsers (a session per tab).")
    ] = False,
    host: Annotated[
        str, typer.Option(help="With --web: the address to listen on (loopback by default).")
    ] = "127.0.0.1",
    port: Annotated[
        int, typer.Option(min=0, max=65535, help="With --web: the port to listen on.")
    ] = 8000,
    allow_remote: Annotated[
        bool,
        typer.Option(
            "--allow-remote", help="With --web: allow a non-loopback --host (the app has no login)."
        ),
    ] = False,
    engine: EngineOption = None,
) -> None:
    """Review refund recommendations in the terminal app, or in a browser with --web."""
    bound = _engine(ctx, engine, app_store)
    if web:
        from tui.web import serve_review

        serve_review(
            bound.home, bound.app_store_dsn, user=user, host=host, port=port,
            allow_remote=allow_remote,
        )  # fmt: skip
        return
    from tui.app import run_review

    with bound.open_app_store() as store:
        run_review(store, user, home=bound.home)


@app.command()
@friendly
def up(
    ctx: typer.Context,
    stages: Annotated[
        str | None,
        typer.Option(
            help="Stages to run, comma-separated (their dependencies run too) [default: all]."
        ),
    ] = None,
    locations: LocationsOption = None,
    now: NowOption = None,
    days: DaysOption = None,
    seed: SeedOption = None,
    config: ConfigOption = None,
    engine: EngineOption = None,
    app_store: AppStoreOption = None,
    catalog: CatalogOption = None,
    events_volume: EventsVolumeOption = None,
    simulator_schema: SimulatorSchemaOption = None,
) -> None:
    """Run the stages (raw_data, lakeflow, refund_agent, refund_stream, lakebase, app) in order."""
    from casper.manifest import Manifest
    from casper.stages import StageContext, UpParameters, run_stages, select_stages

    chosen = select_stages(s.strip() for s in stages.split(",")) if stages else select_stages(None)
    bound = _engine(
        ctx, engine, app_store,
        catalog=catalog, events_volume=events_volume, simulator_schema=simulator_schema,
    )  # fmt: skip
    bound.home.ensure()
    parameters = UpParameters(
        locations=locations, config_files=tuple(config or ()), now=now, days=days, seed=seed
    )
    context = StageContext(bound, parameters, Manifest.load(bound.home.root), notify=_notice)
    with err.status("") as spinner:
        run_stages(
            chosen,
            context,
            on_start=lambda stage: spinner.update(f"[bold]{stage.name}[/]: {stage.summary}"),
            on_done=lambda stage, summary: out.print(f"[green]done[/] {stage.name}: {summary}"),
        )
    flag = "" if bound.name == DEFAULT_ENGINE else f" --engine {bound.name}"
    out.print(
        f"everything lives under {bound.home.root}; `casper status{flag}` for counts, "
        f"`casper down{flag}` to remove it"
    )


#: the engine `casper bundle` writes for unless told otherwise: the one that deploys elsewhere
BUNDLE_ENGINE = "databricks"


@app.command()
@friendly
def bundle(
    ctx: typer.Context,
    out_dir: Annotated[
        Path, typer.Option("--out", help="The bundle's folder (written over).")
    ] = Path("caspers-bundle"),
    engine: Annotated[
        str | None,
        typer.Option(
            "--engine",
            help=f"The engine whose deployment to write [default: $CASPER_ENGINE, else {BUNDLE_ENGINE}].",
            show_default=False,
        ),
    ] = None,
    catalog: CatalogOption = None,
    events_volume: EventsVolumeOption = None,
    simulator_schema: SimulatorSchemaOption = None,
) -> None:
    """Write what `casper up` deploys as a Databricks Asset Bundle (no workspace needed)."""
    if engine is None and "CASPER_ENGINE" not in os.environ:
        engine = BUNDLE_ENGINE
    bound = _engine(
        ctx, engine,
        catalog=catalog, events_volume=events_volume, simulator_schema=simulator_schema,
    )  # fmt: skip
    deployment = bound.deployment()
    if deployment is None:
        raise CasperError(
            f"the {bound.name} engine runs its stages on this machine: it has no deployment to "
            f"write as a bundle (use --engine {BUNDLE_ENGINE})"
        )
    for path in deployment.export(out_dir):
        out.print(f"wrote {path}", highlight=False)
    out.print(
        "bundles cannot upload events, register model versions or run the first jobs: those stay "
        f"`casper up --engine {bound.name}`'s",
        highlight=False,
    )


@app.command()
@friendly
def demo(
    ctx: typer.Context,
    speed: Annotated[
        float, typer.Option(min=0.001, help="Simulated seconds per second for live orders.")
    ] = 60.0,
    every: Annotated[float, typer.Option(min=0.1, help="Seconds between pipeline ticks.")] = 3.0,
    locations: LocationsOption = None,
    days: DaysOption = None,
    config: ConfigOption = None,
    app_store: AppStoreOption = None,
    user: Annotated[
        str | None, typer.Option(help="Who decides [default: your login name].")
    ] = None,
    engine: EngineOption = None,
) -> None:
    """`up`, then live orders, the pipeline, scoring and sync in the background, and the review app."""
    from casper.demo import BackgroundLoops
    from tui.app import run_review

    up(ctx, locations=locations, days=days, config=config, engine=engine, app_store=app_store)
    bound = _engine(ctx, engine, app_store)
    loops = BackgroundLoops(bound, speed=speed, every=every).start()
    try:
        with bound.open_app_store() as store:
            run_review(store, user, home=bound.home)
    finally:
        with err.status("stopping the live generator and the pipeline"):
            loops.close()
    for problem in loops.errors:
        _notice(problem)
    out.print("demo stopped; `casper demo` resumes it, `casper down` removes it")


@app.command()
@friendly
def down(ctx: typer.Context, engine: EngineOption = None, app_store: AppStoreOption = None) -> None:
    """Remove exactly what `casper up` created (your own files and resources stay). What cannot
    be removed now (an app store server that is down) is named, stays recorded, and makes the exit
    code 1: run `casper down` again to finish."""
    from casper.manifest import Manifest
    from casper.stages import tear_down

    bound = _engine(ctx, engine, app_store)
    home = bound.home
    manifest = Manifest.load(home.root)
    if not manifest.entries and not manifest.path.exists():
        out.print(f"nothing to remove: {home.root} has no manifest from `casper up`")
        return
    not_removed = tear_down(
        bound, manifest, say=lambda line: out.print(f"removed {line}", highlight=False)
    )
    if not_removed:
        for problem in not_removed:
            err.print(f"[bold red]error:[/] {escape(problem)}", highlight=False, soft_wrap=True)
        _notice(
            f"{escape(str(manifest.path))} still records what was not removed: run `casper down` "
            "again once that is fixed"
        )
        raise typer.Exit(1)


@roads_app.command("fetch")
@friendly
def roads_fetch(
    ctx: typer.Context,
    location: Annotated[str, typer.Argument(help="A config name, e.g. sanfrancisco.")],
) -> None:
    """Download the location's real drive network from OpenStreetMap (needs the internet) and cache it."""
    from casper.config import resolve_locations
    from casper.generator.kitchens import Site
    from casper.roads import RoadsError, fetch_network

    home = _home(ctx)
    (config,) = resolve_locations(location)
    try:
        path = fetch_network(Site.of(config), home.roads)
    except RoadsError as exc:
        raise CasperError(str(exc)) from None
    out.print(
        f"{config.location_name}: cached {path}; generation uses it from now on", highlight=False
    )


@app.command()
@friendly
def status(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable, stable keys.")] = False,
    app_store: AppStoreOption = None,
    engine: EngineOption = None,
) -> None:
    """What exists under the home: landed events, tables, models, decisions."""
    from casper.status import collect_status, render_status

    notes: list[str] = []
    report = collect_status(_engine(ctx, engine, app_store), notes)
    if as_json:
        sys.stdout.write(json.dumps(report, indent=2) + "\n")
        for note in notes:
            _notice(note)
    else:
        render_status(report, out, notes)


def main() -> None:
    skip_final_collections()
    app(prog_name="casper")
