"""The Lakeflow stage: landing files -> bronze / quarantine -> staging -> silver -> gold and ai tables.

The SQLMesh project is `models/` (`casper.resources.models_dir`). The engine (casper.engine.Engine)
decides only where the models run (its gateway) and how landing files are listed and read (the
`@landing_records` macro, `models/macros/landing.py`). Each call processes everything landed so far:

* `lakeflow.landing_records` is append-only. Its macro lists the landing folder, asks the table which
  files it already holds (every ingested file has a marker row, written by the same INSERT as its
  records) and reads only the others, all in one query. A tick reads only new files; a file is
  ingested exactly once, even across crashes. Bronze (`lakeflow.all_events`), `lakeflow.quarantine`
  and `lakeflow.ingested_files` are views on it.
* Staging models (`lakeflow.stg_*`) are append-only too: each parses the JSON bodies of the landing
  batches it has not seen (a batch_no watermark), once per event (stg_order_items is a view that
  silver_order_items reads for its new batches only).
* Silver is append-only as well: an order is counted once, from the first order_created record to
  land, and never rewritten. ai.order_delivery_times replaces the order days whose orders changed
  (new orders, new steps). The gold tables and ai.location_timings are views over them: a tick has
  nothing to rebuild there. So a tick's work grows with what landed, not with history, while an
  event_id still counts once (see models/README.md).
* One SQLMesh Context and scheduler per `Pipeline` (per process in watch mode). A plan is applied only
  when the project differs from what the warehouse holds (first build, changed models); otherwise a
  tick is one run with `ignore_cron`: every model allows partial intervals, so each run processes
  "everything new now". Audits run after every model evaluation, on the rows it added; a failing
  audit fails the tick. A tick passes over a model none of whose parents' tables changed since it
  last ran (`_Changes`), and on DuckDB evaluates its models one at a time. A Pipeline renders each
  query once and afterwards fills in only the tick's watermarks (casper.tick_templates).
* Between ticks no connection stays open: other processes can open warehouse.duckdb. A tick that
  finds the warehouse held by another process waits for it (the engine's gateway decides how
  long) before SQLMesh reads its state.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from casper.collector import full_collections_deferred
from casper.engine import Engine, open_engine
from casper.errors import CasperError
from casper.home import CasperHome
from casper.locks import LockHeld, process_lock
from casper.resources import models_dir
from casper.settings import Settings
from casper.tick_templates import TickTemplates

if TYPE_CHECKING:
    from sqlmesh import Context
    from sqlmesh.core.config import Config, GatewayConfig

ENVIRONMENT = "prod"
#: default of the SQLMesh variable that sets ai.location_timings' window (minutes)
TIMINGS_WINDOW_MINUTES = 1440
#: the models' start: any fixed date works, no model filters on SQLMesh's time range
MODELS_START = "2024-01-01"
#: compact SQLMesh's interval records every this many ticks (each tick adds one per model)
COMPACT_EVERY = 100
#: how long a tick waits for another process's tick on the same home
LOCK_TIMEOUT_S = 120.0
#: models a tick evaluates at a time on an embedded database (see Pipeline._tick)
TICK_WORKERS = 1

ProgressCallback = Callable[[str], None]


class PipelineError(CasperError, RuntimeError):
    """A tick failed (a model or an audit). What was ingested stays ingested exactly once."""


class PipelineBusy(PipelineError):
    """Another process kept the pipeline of this home busy for longer than the timeout."""


@dataclass(frozen=True)
class PipelineReport:
    """What one call (one tick) did."""

    engine: str
    files_ingested: int
    bronze_rows_added: int
    quarantined_added: int
    elapsed_s: float
    #: a SQLMesh plan was applied (first build of the warehouse, or changed models)
    planned: bool = False
    #: totals after the tick
    files_total: int = 0
    bronze_rows_total: int = 0
    quarantined_total: int = 0
    #: model evaluations and the audits they ran
    models_evaluated: int = 0
    #: models the tick did not evaluate: nothing they read had changed (see _Changes)
    models_skipped: int = 0
    audits_passed: int = 0
    audits_failed: int = 0
    warnings: tuple[str, ...] = field(default_factory=tuple)
    #: what in the landing place no reader reads (casper.landing.ignored_entry), at the tick's start
    ignored_files: tuple[str, ...] = ()


#: the engines of this process's pipelines, for their macros: (engine name, home) -> engine
_running: dict[tuple[str, str], Engine] = {}


def engine_of(name: str, home: str) -> Engine:
    """The engine a SQLMesh macro evaluates for, named by the project's variables `casper_engine`
    and `casper_home`: the pipeline's own engine object, or (the `sqlmesh` CLI) one opened from the
    settings. (A macro must read the variables itself: SQLMesh passes a model only the variables
    its macros' code names.)"""
    running = _running.get((name, home))
    if running is not None:
        return running
    return open_engine(Settings.load(home=home, engine=name))


def landed_names(engine: Engine) -> set[str]:
    return {landed.name for landed in engine.lander().list()}


def sqlmesh_config(
    engine: Engine,
    *,
    gateway: GatewayConfig | None = None,
    unit_tests: bool = True,
    **variables: Any,
) -> Config:
    """The SQLMesh Config of the engine's gateway (one Config per gateway: loading Spark's starts
    Spark), named after the engine: `gateway`, default the one that runs the models. `variables`
    override the project's (e.g. timings_window_minutes=60). Without `unit_tests`, loading the
    project skips its YAML unit tests (the pipeline never runs them: pytest and `sqlmesh test` do)."""
    from sqlmesh.core import constants
    from sqlmesh.core.config import CategorizerConfig, Config, ModelDefaultsConfig, PlanConfig

    from casper.catalog.home import digest as catalog_digest

    home = engine.home
    return Config(
        gateways={engine.name: gateway or engine.gateway_config()},
        default_gateway=engine.name,
        model_defaults=ModelDefaultsConfig(
            dialect="duckdb",
            start=MODELS_START,
            cron="@daily",
            # with run(ignore_cron=True), each run processes everything up to now
            allow_partials=True,
            # SQLMesh's optimizer (qualify, annotate types, simplify) re-runs on every evaluation
            # of every model: a fifth of a tick. The models declare their columns and types and
            # cast explicitly, and the engines plan the queries themselves.
            optimize_query=False,
        ),
        variables={
            # the landing macro asks this engine for the landing files (engine_of)
            "casper_engine": engine.name,
            "casper_home": str(home.root),
            # the fingerprint of the home's catalog: the simulator models name it (macros/catalog.py)
            "casper_catalog": catalog_digest(home.root),
            "timings_window_minutes": TIMINGS_WINDOW_MINUTES,
            **variables,
        },
        plan=PlanConfig(auto_categorize_changes=CategorizerConfig.all_full()),
        cache_dir=str(engine.settings.sqlmesh_cache_dir),
        disable_anonymized_analytics=True,
        # inferring pip requirements scans every installed distribution (about 1 s per plan)
        infer_python_dependencies=False,
        ignore_patterns=[*constants.IGNORE_PATTERNS, *([] if unit_tests else ["tests/*"])],
    )


def _console(
    on_progress: ProgressCallback | None, skipped: Callable[[str], bool] = lambda name: False
):
    """A SQLMesh console that counts evaluations and audits and forwards one line per model;
    `skipped(name)` tells the models a tick passed over (they are counted apart)."""
    from sqlmesh.core.console import NoopConsole

    class _Console(NoopConsole):
        def __init__(self) -> None:
            super().__init__()
            self.reset()

        def reset(self) -> None:
            self.evaluated = 0
            self.skipped = 0
            self.audits_passed = 0
            self.audits_failed = 0
            self.warnings: list[str] = []
            self.errors: list[str] = []

        def _say(self, message: str) -> None:
            if on_progress is not None:
                on_progress(message)

        def update_snapshot_evaluation_progress(
            self,
            snapshot,
            interval,
            batch_idx,
            duration_ms,
            num_audits_passed,
            num_audits_failed,
            *args,
            **kwargs,
        ) -> None:
            if skipped(snapshot.name):
                self.skipped += 1
                self._say(f"{snapshot.name}: nothing new, skipped")
                return
            self.evaluated += 1
            self.audits_passed += num_audits_passed
            self.audits_failed += num_audits_failed
            audits = f", audits {num_audits_passed} passed" if num_audits_passed else ""
            if num_audits_failed:
                audits += f", {num_audits_failed} FAILED"
            self._say(f"{snapshot.name}: {duration_ms or 0} ms{audits}")

        def log_warning(self, short_message: str, long_message: str | None = None) -> None:
            if "not recommended for storing SQLMesh state" in short_message:
                return  # the spark engine keeps its SQLMesh state in DuckDB on purpose
            self.warnings.append(long_message or short_message)
            self._say(f"warning: {short_message}")

        def log_error(self, message: str, *args, **kwargs) -> None:
            self.errors.append(message)
            self._say(f"error: {message}")

        def log_failed_models(self, errors) -> None:
            for error in errors:
                cause = error.__cause__
                message = f"{error}: {cause}" if cause is not None else str(error)
                self.errors.append(message)
                self._say(f"failed: {message}")

    return _Console()


class _Changes:
    """Which models a tick must evaluate: those whose input changed since they last ran.

    Every model of the project is a function of the tables it reads (its parents) and of its own
    table; only a model without parents reads outside the DAG (the landing files, a seed's CSV).
    So a model whose parents' tables are all as they were when it last ran successfully has
    nothing new to take in: evaluating it again would render, run and audit a query that adds
    nothing. Over a watch, most ticks bring a few step events and no new order, and the order
    models would do exactly that. The scheduler's evaluate is wrapped (`install`): it passes over
    such a model without touching its table or SQLMesh's state (the model's interval stays
    missing, and the next run of any process evaluates it again).

    What changed is observed, never assumed: after each evaluation the model's table is
    fingerprinted (row count and newest batch_no: its rows are appended, or its days replaced,
    with the newest landing batch among them), and the fingerprint is compared with the one seen
    after its previous evaluation, by whichever process made it. A table without batch_no (a view)
    counts as changed whenever it is evaluated. Nothing is known at a process's first tick: it
    evaluates every model. A failed evaluation records nothing, so the model runs again next tick.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        #: model -> fingerprint of its table after its last evaluation
        self._seen: dict[Any, tuple | None] = {}
        #: model -> how many times its table was seen to change
        self._versions: dict[Any, int] = {}
        #: model -> its parents' versions when it last ran successfully
        self._consumed: dict[Any, dict[Any, int]] = {}
        #: the models passed over in the current tick (by name)
        self.skipped: set[str] = set()

    def install(self, scheduler, adapter) -> None:
        evaluate = scheduler.evaluate

        def evaluate_if_changed(snapshot, *args, **kwargs):
            parents = [p for p in snapshot.parents if p != snapshot.snapshot_id]
            if parents and self._unchanged(snapshot.snapshot_id, parents):
                self.skipped.add(snapshot.name)
                return []
            results = evaluate(snapshot, *args, **kwargs)
            self._ran(snapshot.snapshot_id, parents, _fingerprint(adapter, snapshot))
            return results

        scheduler.evaluate = evaluate_if_changed

    def _unchanged(self, model, parents) -> bool:
        with self._lock:
            consumed = self._consumed.get(model)
            return consumed is not None and all(
                self._versions.get(p, 0) == consumed.get(p, 0) for p in parents
            )

    def _ran(self, model, parents, fingerprint: tuple | None) -> None:
        with self._lock:
            if fingerprint is None or self._seen.get(model) != fingerprint:
                self._versions[model] = self._versions.get(model, 0) + 1
            self._seen[model] = fingerprint
            self._consumed[model] = {p: self._versions.get(p, 0) for p in parents}


def _recording_intervals_per_run(create_scheduler):
    """The Context's scheduler factory, wrapped: each scheduler it makes (a tick's, a plan's
    backfill) keeps the intervals its models process and writes them together when its run of
    intervals ends (`_RunIntervals`)."""

    def create(snapshots, snapshot_evaluator):
        scheduler = create_scheduler(snapshots, snapshot_evaluator)
        intervals = scheduler.state_sync = _RunIntervals(scheduler.state_sync)
        run_merged_intervals = scheduler.run_merged_intervals

        def run_then_record(*args, **kwargs):
            try:
                return run_merged_intervals(*args, **kwargs)
            finally:
                intervals.record()

        scheduler.run_merged_intervals = run_then_record
        return scheduler

    return create


class _RunIntervals:
    """A scheduler's state sync, recording the intervals a run's models processed together
    when the run ends, instead of one write as each model finishes.

    SQLMesh writes a model's interval as it finishes, through a DataFrame: a temporary table, an
    insert and a drop, about a tenth of a small model's evaluation. A tick of seven models then
    spends more on that bookkeeping than on most of its queries, and a first build's backfill
    about 1.4 s of its threads' time. Written together, once the run is over (whether it
    succeeded or not), the state ends the same. Should the process die in between, the intervals
    are missing and the next tick (or the plan, which was not finalized) evaluates those models
    again, which takes nothing twice: every incremental model reads only the batches its own
    table has not seen (@new_batches), and the partition model replaces what it recomputes.
    Everything else (the intervals a run restates, for one) is the wrapped state sync's, at once.
    """

    def __init__(self, state_sync) -> None:
        self._state_sync = state_sync
        self._pending: list = []
        self._lock = threading.Lock()

    def __getattr__(self, name: str):
        return getattr(self._state_sync, name)

    def add_interval(self, *args, **kwargs) -> None:
        """Kept until `record`: SQLMesh's own add_interval builds the interval and hands it to
        the add_snapshots_intervals of what it is called on, here the pending list's."""
        from sqlmesh.core.state_sync.base import StateSync

        StateSync.add_interval(_Pending(self), *args, **kwargs)  # type: ignore[arg-type]

    def _keep(self, snapshots_intervals) -> None:
        with self._lock:
            self._pending.extend(snapshots_intervals)

    def record(self) -> None:
        """Write what the run processed (one write), if anything."""
        with self._lock:
            pending, self._pending = self._pending, []
        if pending:
            self._state_sync.add_snapshots_intervals(pending)


@dataclasses.dataclass(frozen=True)
class _Pending:
    """What StateSync.add_interval hands the interval it builds to: _RunIntervals' pending list."""

    intervals: _RunIntervals

    def add_snapshots_intervals(self, snapshots_intervals) -> None:
        self.intervals._keep(snapshots_intervals)


def _without_api_analytics(method: Callable) -> Callable:
    """A SQLMesh Context method without its usage-analytics wrapper (functools.wraps keeps the
    method as `__wrapped__`). Even with analytics disabled, the wrapper imports sqlmesh.magics
    (the IPython magics) and calls inspect.stack(), which reads the source of every frame of
    the call stack, to tell an API call from a CLI one: about 0.2 s before a first build's
    backfill could start (plan and the plan_builder it calls are both wrapped)."""
    return getattr(method, "__wrapped__", method)


def _fingerprint(adapter, snapshot) -> tuple | None:
    """(rows, newest batch_no) of a model's table, or None when it has no batch_no column."""
    from sqlglot import exp

    if snapshot.is_view or "batch_no" not in (snapshot.model.columns_to_types or {}):
        return None
    table = exp.to_table(snapshot.table_name(), dialect=adapter.dialect)
    query = exp.select(exp.func("COUNT", exp.Star()), exp.func("MAX", exp.column("batch_no")))
    return tuple(adapter.fetchone(query.from_(table)) or ())


@contextlib.contextmanager
def _home_lock(home: CasperHome, timeout_s: float) -> Iterator[None]:
    """One tick at a time per home, across processes; the lock dies with the process holding it,
    never with its forked workers (casper/locks.py)."""
    try:
        with process_lock(home.root / "sqlmesh" / "pipeline.lock", timeout_s):
            yield
    except LockHeld as held:
        holder = held.holder
        if holder.pid is not None and not holder.running:
            raise PipelineBusy(
                f"the pipeline lock {held.path} is held, but pid {holder.pid} it names is not "
                "running here: is the home shared with another machine or container?"
            ) from None
        who = f" (pid {holder.pid})" if holder.pid is not None else ""
        raise PipelineBusy(f"another pipeline is running on {home.root}{who}") from None


class Pipeline:
    """One engine's pipeline over one home. Keep it for the life of the process (watch mode)."""

    def __init__(
        self,
        engine: Engine,
        *,
        on_progress: ProgressCallback | None = None,
        variables: dict[str, Any] | None = None,
        models_path: Path | None = None,
    ) -> None:
        self.engine = engine
        self.home = engine.home.ensure()
        _running[(engine.name, str(self.home.root))] = engine
        self.on_progress = on_progress
        self.variables = dict(variables or {})
        self.models_path = models_path or models_dir()
        self._context: Context | None = None
        self._changes = _Changes()
        self._templates = TickTemplates()
        # this imports SQLMesh: the full collections its import would start (three, 0.2 s in
        # all) wait, like a tick's
        with full_collections_deferred():
            self._console = _console(self._progress, lambda name: name in self._changes.skipped)
        self._scheduler = None
        #: whether this Pipeline compared the project with what the warehouse holds (first tick)
        self._plan_checked = False
        self._ticks = 0
        self._lock = threading.Lock()
        # after a fully successful tick: the files the warehouse holds, and that tick's report
        self._ingested: set[str] | None = None
        self._last: PipelineReport | None = None

    def _progress(self, message: str) -> None:
        if self.on_progress is not None:
            self.on_progress(message)

    @contextlib.contextmanager
    def _console_installed(self) -> Iterator[None]:
        """SQLMesh's console is process-global: ours only while this pipeline works."""
        from sqlmesh.core.console import get_console, set_console

        previous = get_console()
        set_console(self._console)
        try:
            yield
        finally:
            set_console(previous)

    @property
    def context(self) -> Context:
        if self._context is None:
            from sqlmesh import Context

            self._progress(f"loading the SQLMesh project for the {self.engine.name} engine")
            with self._console_installed():
                self._context = Context(
                    paths=str(self.models_path),
                    config=sqlmesh_config(self.engine, unit_tests=False, **self.variables),
                    gateway=self.engine.name,
                )
            self._context.console = self._console
            # an instance attribute: the plan evaluator and Context.scheduler both look it up
            self._context.create_scheduler = _recording_intervals_per_run(
                self._context.create_scheduler
            )
        return self._context

    def tick(self) -> PipelineReport:
        """Process everything landed so far; see the module docstring.

        When the previous tick succeeded and no new landing file has appeared since, there is
        nothing to do: the tick returns at once without opening the warehouse.
        """
        with self._lock:
            started = time.perf_counter()
            last = self._last
            survey = self.engine.lander().survey()
            nothing_new = (
                last is not None
                and self._ingested is not None
                and {landed.name for landed in survey.files} <= self._ingested
            )
            if nothing_new:
                return dataclasses.replace(
                    last,
                    files_ingested=0,
                    bronze_rows_added=0,
                    quarantined_added=0,
                    elapsed_s=time.perf_counter() - started,
                    planned=False,
                    models_evaluated=0,
                    models_skipped=0,
                    audits_passed=0,
                    audits_failed=0,
                    warnings=(),
                    ignored_files=survey.ignored,
                )
            self._ingested = self._last = None
            report = dataclasses.replace(self._tick(started), ignored_files=survey.ignored)
            self._last = report
            return report

    def _tick(self, started: float) -> PipelineReport:
        # a tick's SQLMesh work makes short-lived garbage the young generations collect; a full
        # collection walking SQLMesh, the project and the libraries (six in a first build, 0.65
        # s) waits until the tick is over
        with (
            full_collections_deferred(),
            _home_lock(self.home, LOCK_TIMEOUT_S),
            self._console_installed(),
        ):
            self._console.reset()
            try:
                # open the warehouse before SQLMesh reads its state, waiting while another
                # process holds it: SQLMesh takes any failure to read its state for "no state
                # yet" (table_exists answers False) and would start building it from scratch
                self.context.engine_adapter.ping()
                before = self._landing_counts()
                planned = False
                if not self._plan_checked:
                    planned = self._plan_if_needed()
                    self._plan_checked = True
                self._changes.skipped.clear()
                # a first build processes everything landed; a plan completing a failed one
                # backfills only what failed, so files landed meanwhile still need a run
                if not planned or landed_names(self.engine) - self._ingested_files():
                    if self._ticks % COMPACT_EVERY == 0:
                        self.context.state_sync.compact_intervals()
                    self._progress("running")
                    with self._templates.serving():
                        status = self._tick_scheduler().run(
                            ENVIRONMENT, ignore_cron=True, auto_restatement_enabled=True
                        )
                    if status.is_failure:
                        raise PipelineError(
                            "the pipeline run failed: "
                            + ("; ".join(self._console.errors) or "see the log")
                        )
                after = self._landing_counts()
                ingested = self._ingested_files()
                self._ticks += 1
            finally:
                self.release()
            self._ingested = ingested
            return PipelineReport(
                engine=self.engine.name,
                files_ingested=after["file"] - before["file"],
                bronze_rows_added=after["event"] - before["event"],
                quarantined_added=after["quarantine"] - before["quarantine"],
                elapsed_s=time.perf_counter() - started,
                planned=planned,
                files_total=after["file"],
                bronze_rows_total=after["event"],
                quarantined_total=after["quarantine"],
                models_evaluated=self._console.evaluated,
                models_skipped=self._console.skipped,
                audits_passed=self._console.audits_passed,
                audits_failed=self._console.audits_failed,
                warnings=tuple(self._console.warnings),
            )

    def _tick_scheduler(self):
        """The scheduler of this Pipeline's ticks, made at the first tick that runs (reading the
        snapshots from the state costs about 0.4 s: a first build, whose plan did the run, never
        needs it)."""
        if self._scheduler is None:
            scheduler = self.context.scheduler(environment=ENVIRONMENT)
            self._changes.install(scheduler, scheduler.snapshot_evaluator.adapter)
            # on an embedded database a tick's models are small queries and mostly SQLMesh's
            # Python work, which threads only contend for (the GIL): one at a time is faster. A
            # plan (first build, changed models), and an engine whose queries run elsewhere
            # (Spark), keep the gateway's concurrent tasks.
            if scheduler.snapshot_evaluator.adapter.dialect == "duckdb":
                scheduler.max_workers = TICK_WORKERS
            self._scheduler = scheduler
        return self._scheduler

    def _plan_if_needed(self) -> bool:
        """Apply a plan to prod when the local project differs from it, or prod does not exist or was
        never finalized (a failed plan records the environment but promotes none of its views)."""
        context = self.context
        environment = context.state_reader.get_environment(ENVIRONMENT)
        if environment is not None and environment.finalized_ts is not None:
            deployed = {s.snapshot_id for s in environment.snapshots}
            if {s.snapshot_id for s in context.snapshots.values()} == deployed:
                return False
        self._progress("applying a SQLMesh plan (first build or changed models)")
        try:
            # what Context.plan does with auto_apply, without its analytics wrapper (see
            # _without_api_analytics); unit tests and the linter run in CI (pytest, `sqlmesh
            # test`), not on every first build
            plan_builder = _without_api_analytics(type(context).plan_builder)
            plan_builder(context, ENVIRONMENT, skip_tests=True, skip_linter=True).apply()
        except Exception as error:
            raise PipelineError(
                f"applying the SQLMesh plan failed: {'; '.join(self._console.errors) or error}"
            ) from error
        return True

    def _landing_counts(self) -> dict[str, int]:
        from sqlglot import exp

        adapter = self.context.engine_adapter
        table = exp.to_table("lakeflow.landing_records")
        counts = {"file": 0, "event": 0, "quarantine": 0}
        if not adapter.table_exists(table):
            return counts
        query = (
            exp.select("record_kind", exp.func("COUNT", exp.Star()))
            .from_(table)
            .group_by("record_kind")
        )
        for kind, count in adapter.fetchall(query):
            counts[kind] = int(count)
        return counts

    def _ingested_files(self) -> set[str]:
        from sqlglot import exp

        query = (
            exp.select("source_file")
            .from_("lakeflow.landing_records")
            .where(exp.column("record_kind").eq(exp.Literal.string("file")))
        )
        return {row[0] for row in self.context.engine_adapter.fetchall(query)}

    def release(self) -> None:
        """Close every connection: the warehouse is free for other processes until the next tick."""
        if self._context is not None:
            self._context.close()
        self.engine.release_connections()

    def close(self) -> None:
        """Release connections and engine resources (stops a local Spark session)."""
        self.release()
        if self._context is not None:
            self.engine.shutdown()
        self._context = None
        self._scheduler = None
        self._templates = TickTemplates()
        self._plan_checked = False


def run_pipeline(engine: Engine, *, on_progress: ProgressCallback | None = None) -> PipelineReport:
    """Process everything landed so far with `engine` (bound to its home).

    Incremental: only files not ingested before are read (listing the landing folder is the only work
    that grows with history on the read side), each exactly once. Records that cannot be parsed go to
    lakeflow.quarantine with their file, raw text and reason. Silver, gold and ai tables take in what
    is new (models/README.md) and are audited. The first call on a home builds the warehouse (a
    SQLMesh plan). `on_progress` receives one human-readable line per step and model.

    Raises PipelineError when a model or an audit fails (nothing is half-ingested; the next call
    resumes), PipelineBusy when another process keeps this home's pipeline busy, WarehouseBusyError
    when another process holds the warehouse for longer than the engine waits.
    """
    # one tick and the process is usually done: a full collection between the tick and closing
    # (when the tick's deferral ends) would walk everything SQLMesh loaded for nothing
    with full_collections_deferred():
        pipeline = Pipeline(engine, on_progress=on_progress)
        try:
            return pipeline.tick()
        finally:
            pipeline.close()


def watch_pipeline(
    engine: Engine,
    every: float = 5.0,
    stop: threading.Event | None = None,
    on_tick: Callable[[PipelineReport], None] | None = None,
    *,
    on_error: Callable[[BaseException], None] | None = None,
    on_progress: ProgressCallback | None = None,
) -> None:
    """Process new landing files every `every` seconds until `stop` is set.

    One SQLMesh Context for the whole watch: the project is loaded once and planned at most once (first
    tick); later ticks only run. Each tick calls `on_tick(report)`. A failing tick goes to `on_error`
    when given (the next tick retries; nothing is lost or ingested twice), else it is raised. No
    connection stays open between ticks, so other processes can read warehouse.duckdb meanwhile.
    """
    stop = stop or threading.Event()
    pipeline = Pipeline(engine, on_progress=on_progress)
    frozen_with: tuple | None = None  # what the Pipeline held when the collector was last frozen
    try:
        while not stop.is_set():
            started = time.monotonic()
            try:
                report = pipeline.tick()
            except Exception as error:
                if on_error is None:
                    raise
                on_error(error)
            else:
                if on_tick is not None:
                    on_tick(report)
            held = (pipeline._context, pipeline._scheduler)
            if held != frozen_with:
                # What the Pipeline keeps for the watch (SQLMesh, the project, the scheduler's
                # snapshots), made by its first ticks, lives as long as the watch: moved out of
                # the collector's reach, the full collection every few ticks no longer walks it
                # (about 240 ms each time on the canonical home). Each tick's own garbage is
                # collected as usual.
                gc.freeze()
                frozen_with = held
            stop.wait(max(0.0, every - (time.monotonic() - started)))
    finally:
        if frozen_with is not None:
            gc.unfreeze()  # the process may go on (tests, the demo's other loops)
        pipeline.close()
