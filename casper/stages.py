"""The stages of the reference's "Casper's Initializer" job (SPEC.md section 6), run locally.

Each stage is small and idempotent (re-running `up` redoes nothing that is done and duplicates
nothing), records what it creates in the manifest, and says in one line what it built.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from casper.engine import Engine
from casper.errors import CasperError
from casper.home import CasperHome
from casper.manifest import Manifest


@dataclass(frozen=True)
class UpParameters:
    """The generator's parameters (the reference job's CATALOG, EVENTS_VOLUME and SIMULATOR_SCHEMA
    are in the engine's settings)."""

    #: --locations (None: not given) and --config, as casper.config.resolve_selection takes them
    locations: str | None = None
    config_files: tuple[Path, ...] = ()
    now: str | None = None
    days: int | None = None
    seed: int | None = None


@dataclass
class StageContext:
    engine: Engine
    parameters: UpParameters
    manifest: Manifest
    notify: Callable[[str], None] = field(default=lambda message: None)

    @property
    def home(self) -> CasperHome:
        return self.engine.home


@dataclass(frozen=True)
class Stage:
    name: str
    reference_task: str
    depends_on: tuple[str, ...]
    summary: str
    run: Callable[[StageContext], str]


def _raw_data(context: StageContext) -> str:
    for pattern in ("landing/history-*.ndjson", "landing/live-*.ndjson", "landing/replay-*.ndjson"):
        context.manifest.record(pattern, "glob")
    return land_history(context)


def land_history(context: StageContext) -> str:
    """Generate the history on this machine and land it with the engine's lander (for every
    engine: a remote engine's lander uploads); returns the stage's summary."""
    from casper.generator.runs import plan_history, run_generate

    p = context.parameters
    context.manifest.record("roads/*.routes-*", "glob")  # the route tables and their texts
    context.manifest.record("generator", "folder")
    context.manifest.save()
    plan = plan_history(
        context.home,
        locations=p.locations,
        config_files=p.config_files,
        now=p.now,
        days=p.days,
        seed=p.seed,
    )
    report = run_generate(context.engine, plan, notify=context.notify)
    landed = (
        f"{report.events:,} events in {report.files_written} files"
        if report.files_written
        else "nothing new"
    )
    return (
        f"history up to {plan.now.isoformat(sep=' ')}: {landed} -> {context.engine.lander().folder}"
    )


def _lakeflow(context: StageContext) -> str:
    from casper.pipeline import run_pipeline

    context.manifest.record("sqlmesh", "folder")
    for relative, kind in context.engine.warehouse_state():
        context.manifest.record(relative, kind)
    context.manifest.save()
    report = run_pipeline(context.engine)
    return (
        f"{report.bronze_rows_total:,} events in lakeflow.all_events, {report.quarantined_total:,} quarantined "
        f"({context.engine.name} warehouse)"
    )


def _refund_agent(context: StageContext) -> str:
    from casper.refunds import registry
    from casper.refunds.service import train

    context.manifest.record("mlflow", "folder")
    context.manifest.save()
    target = context.engine.registry_target()
    champion = registry.champion_version(target)
    if champion is not None:
        return f"{target.model_name} version {champion} is already champion"
    report = train(context.engine)
    return f"{report.version.name} version {report.version.version} registered as champion"


def _refund_stream(context: StageContext) -> str:
    from casper.refunds.service import ChampionScorer

    report = ChampionScorer(context.engine).score_pending()
    return f"scored {report.scored:,} new deliveries with version {report.version} -> recommender.refund_recommendations"


def _lakebase(context: StageContext) -> str:
    from casper.appstore.schema import RECOMMENDATIONS
    from casper.appstore.store import without_password
    from casper.reverse_etl import sync_to_store

    dsn = context.engine.app_store_dsn()
    if dsn is None:
        context.manifest.record("appstore", "folder")
    else:
        context.manifest.app_store_dsn = without_password(dsn)
    context.manifest.save()
    with context.engine.open_app_store() as store:
        report = sync_to_store(context.engine, store)
    where = "PostgreSQL" if dsn else str(context.home.root / "appstore")
    return f"synced {report.upserted:,} recommendations into {RECOMMENDATIONS} ({where})"


def _app(context: StageContext) -> str:
    context.manifest.record("exports", "folder")
    context.manifest.save()
    with context.engine.open_app_store() as store:
        health = store.health()
        counts = store.counts()
    if not health.get("ok", True):
        raise CasperError(f"the app store is not healthy: {health}")
    return f"{counts['pending']:,} refunds pending review: open them with `casper review`"


STAGES: tuple[Stage, ...] = (
    Stage("raw_data", "Raw_Data", (), "generate order history into the landing folder", _raw_data),
    Stage("lakeflow", "Lakeflow_Declarative_Pipeline", ("raw_data",), "bronze -> silver -> gold", _lakeflow),
    Stage("refund_agent", "Refund_Recommender_Agent", ("lakeflow",), "train and register the refund model", _refund_agent),
    # the reference's stream called the agent's endpoint; ours loads the registered champion, so it
    # depends on the agent stage explicitly
    Stage("refund_stream", "Refund_Recommender_Stream", ("lakeflow", "refund_agent"), "score delivered orders", _refund_stream),
    Stage("lakebase", "Lakebase_Reverse_ETL", ("refund_stream",), "sync recommendations to the app store", _lakebase),
    Stage("app", "Databricks_App_Refund_Manager", ("lakebase",), "the refund review app", _app),
)  # fmt: skip
STAGE_NAMES = tuple(s.name for s in STAGES)


def select_stages(names: Iterable[str] | None) -> list[Stage]:
    """The chosen stages and everything they depend on, in dependency order."""
    by_name = {s.name: s for s in STAGES}
    wanted = list(names) if names else list(STAGE_NAMES)
    unknown = [n for n in wanted if n not in by_name]
    if unknown:
        raise CasperError(f"unknown stage {unknown[0]!r}: choose from {', '.join(STAGE_NAMES)}")
    needed: set[str] = set()
    pending = list(wanted)
    while pending:
        name = pending.pop()
        if name not in needed:
            needed.add(name)
            pending.extend(by_name[name].depends_on)
    return [s for s in STAGES if s.name in needed]  # STAGES is already in dependency order


def run_stages(
    stages: list[Stage],
    context: StageContext,
    on_start: Callable[[Stage], None] | None = None,
    on_done: Callable[[Stage, str], None] | None = None,
) -> None:
    deployment = context.engine.deployment()
    for stage in stages:
        if on_start:
            on_start(stage)
        summary = deployment.run_stage(stage.name, context) if deployment else stage.run(context)
        context.manifest.stages[stage.name] = True
        context.manifest.save()
        if on_done:
            on_done(stage, summary)


def tear_down(engine: Engine, manifest: Manifest, say: Callable[[str], None]) -> list[str]:
    """Remove what `up` recorded, as much of it as can be removed: the deployment's resources, the
    app store's PostgreSQL schemas, then what is under the home (each removal `say`s what went).
    Returns one line per thing that could not be removed, saying why. Those stay recorded in the
    manifest, so `down` run again once the cause is gone (the server is back) finishes the job."""
    from casper.appstore.store import drop_app_store

    deployment = engine.deployment()
    if manifest.resources and deployment is None:
        kinds = sorted({r.kind for r in manifest.resources})
        raise CasperError(
            f"{manifest.home} records {len(manifest.resources)} resources elsewhere "
            f"({', '.join(kinds)}): run `casper down` with the --engine that created them"
        )
    not_removed: list[str] = []
    if deployment is not None:
        try:
            deployment.teardown(manifest, say=say)  # forgets each resource as it goes
        except CasperError as failed:
            not_removed.append(str(failed))
    if manifest.app_store_dsn:
        try:
            # the manifest keeps no password; a DSN given now (option, $CASPER_APP_STORE) may hold it
            for line in drop_app_store(engine.app_store_dsn() or manifest.app_store_dsn):
                say(line)
            manifest.app_store_dsn = None
        except CasperError as failed:
            not_removed.append(str(failed))
    for line in manifest.remove_all():
        say(line)
    return not_removed


def stage_status(home) -> dict[str, bool]:
    done = Manifest.load(home.root).stages
    return {name: bool(done.get(name)) for name in STAGE_NAMES}
