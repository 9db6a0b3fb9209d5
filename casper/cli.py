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
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from casper.errors import CasperError
from casper.home import CasperHome

os.environ.setdefault("SQLMESH__DISABLE_ANONYMIZED_ANALYTICS", "1")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

app = typer.Typer(
    name="casper",
    help="Casper's Kitchens on your laptop: generate ghost-kitchen orders, refine them, review refunds.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
roads_app = typer.Typer(help="Road networks used to route deliveries.", no_args_is_help=True)
app.add_typer(roads_app, name="roads")

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

HomeOption = Annotated[
    Path | None,
    typer.Option(
        "--home", help="Where all local state lives [default: $CASPER_HOME, else ./.casper]."
    ),
]
LocationsOption = Annotated[
    str,
    typer.Option(
        "--locations", "-l", help="Config names, comma-separated (sanfrancisco,chicago), or 'all'."
    ),
]
ConfigOption = Annotated[
    list[Path] | None,
    typer.Option("--config", help="A location config file outside configs/ (repeatable)."),
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
            err.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None

    return wrapper


@app.callback()
def main_options(ctx: typer.Context, home: HomeOption = None) -> None:
    ctx.obj = CasperHome.resolve(home)


def _home(ctx: typer.Context) -> CasperHome:
    return ctx.obj


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

    return parse_now(text) if text else None


@app.command()
@friendly
def generate(
    ctx: typer.Context,
    locations: LocationsOption = "all",
    now: NowOption = None,
    days: Annotated[
        int | None, typer.Option(min=0, help="Days of history (overrides start_days_ago).")
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed (overrides random_seed).")] = None,
    config: ConfigOption = None,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
) -> None:
    """Generate order history up to now into the landing folder (one file per location-day)."""
    from casper.generator.runs import plan_history, run_generate

    home = _home(ctx)
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
            home,
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
    locations: LocationsOption = "all",
    speed: Annotated[
        float | None,
        typer.Option(min=0.001, help="Simulated seconds per second (overrides speed_up)."),
    ] = None,
    until: Annotated[
        str | None, typer.Option(help="Stop at this simulated time (ISO UTC).")
    ] = None,
    sim_minutes: Annotated[
        float | None, typer.Option(min=0, help="Stop after this many simulated minutes.")
    ] = None,
    batch_rows: Annotated[
        int | None, typer.Option(min=1, help="Events per file (overrides batch_rows).")
    ] = None,
    batch_seconds: Annotated[
        float | None,
        typer.Option(min=0.001, help="Flush at least this often (overrides batch_seconds)."),
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Continue the simulation from its now into the future; Ctrl-C stops, running it again resumes."""
    from casper.generator.plan import load_plan
    from casper.generator.runs import plan_history, run_generate, run_live
    from casper.generator.simulation import from_us

    home = _home(ctx)
    plan = load_plan(home.generator)
    if plan is None:
        _notice("no history yet: generating it first")
        plan = plan_history(home, locations=locations, config_files=config or ())
        run_generate(home, plan, notify=_notice)
    if locations != "all" or config:
        wanted = {
            c.location_name
            for c in plan_history(home, locations=locations, config_files=config or ()).configs
        }
        plan = type(plan)(
            now=plan.now, configs=tuple(c for c in plan.configs if c.location_name in wanted)
        )
    stop = _stop_on_signals()
    out.print(
        f"live from {plan.now.isoformat(sep=' ')} for {', '.join(c.location_name for c in plan.configs)}; Ctrl-C to stop",
        highlight=False,
    )
    streams = run_live(
        home,
        plan,
        stop,
        speed=speed,
        until=_parse_until(until),
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
        Path, typer.Argument(help="A folder of .ndjson/.json event files, or one file.")
    ],
    speed: Annotated[float, typer.Option(help="Simulated seconds per second.")] = 60.0,
    loop: Annotated[
        bool, typer.Option("--loop", help="Start over after the end, with -N suffixed ids.")
    ] = False,
    until: Annotated[
        str | None, typer.Option(help="Stop at this (shifted) simulated time, ISO UTC.")
    ] = None,
    sim_minutes: Annotated[
        float | None, typer.Option(min=0, help="Stop after this many simulated minutes.")
    ] = None,
    batch_rows: Annotated[int, typer.Option(min=1)] = 10,
    batch_seconds: Annotated[float, typer.Option(min=0.001)] = 1.0,
) -> None:
    """Replay a stored dataset at any speed, shifted to the present; resumable."""
    from casper.generator.runs import run_replay

    home = _home(ctx)
    stop = _stop_on_signals()
    stream = run_replay(
        home,
        dataset,
        stop,
        speed=speed,
        loop=loop,
        batch_rows=batch_rows,
        batch_seconds=batch_seconds,
        until=_parse_until(until),
        sim_minutes=sim_minutes,
        on_flush=lambda p: err.print(
            f"{p.prefix}: simulated {p.sim_time[:19]}, {p.landed_events:,} events landed",
            highlight=False,
        ),
    )
    out.print(
        f"{stream.prefix}: {stream.landed_events:,} events landed this run ({stream.files} files in all)",
        highlight=False,
    )


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
) -> None:
    """What exists under the home: landed events, tables, models, decisions."""
    from casper.status import collect_status, render_status

    report = collect_status(_home(ctx))
    if as_json:
        sys.stdout.write(json.dumps(report, indent=2) + "\n")
    else:
        render_status(report, out)


def main() -> None:
    app(prog_name="casper")


if __name__ == "__main__":
    main()
