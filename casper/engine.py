"""The engine port: every question whose answer differs per engine, asked in one place.

The domain (casper/) talks to an engine only through `Engine` and the small protocols below; engines
implement them in engines/<name>/ and register under the `casper.engines` entry-point group
(pyproject.toml), so casper/ never imports an engine implementation and adding an engine is one new
folder plus one registry line. `open_engine(settings)` is the only way in.
"""

from __future__ import annotations

import datetime as dt
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from importlib.metadata import entry_points
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from casper.errors import CasperError
from casper.home import CasperHome

if TYPE_CHECKING:
    import pandas as pd
    import polars as pl
    from sqlglot import exp
    from sqlmesh.core.config import GatewayConfig
    from sqlmesh.core.engine_adapter import EngineAdapter

    from casper.appstore.store import AppStore
    from casper.manifest import Kind, Manifest
    from casper.settings import Settings
    from casper.stages import StageContext

ENTRY_POINT_GROUP = "casper.engines"


class UnknownEngineError(CasperError, ValueError):
    pass


class WarehouseMissingError(CasperError):
    """The warehouse lacks a table the step needs: an earlier stage has not run."""


class WarehouseBusyError(CasperError):
    """Another process holds the warehouse for longer than we wait."""


# -- where raw events land ----------------------------------------------------------------------


@dataclass(frozen=True)
class LandedFile:
    name: str
    size: int
    #: modification time in nanoseconds since the epoch (a changed file gets a new one)
    modified_ns: int


@dataclass(frozen=True)
class LandingSurvey:
    """One listing of the landing place."""

    #: its landing files, by name (what `Lander.list` returns)
    files: tuple[LandedFile, ...]
    #: by name, what is there but never read and not a writer's temporary: other files, folders
    #: (named with a trailing "/"), as casper.landing.ignored_entry names them
    ignored: tuple[str, ...]


class Lander(Protocol):
    """Where raw event files land: a folder or a remote volume. A reader never sees half a file,
    and `list` shows only landing files (casper.landing.is_landing_file). The history generator
    calls `land` from a few threads at once, each with its own file."""

    #: where the files land (a local folder, a /Volumes path), as messages name it
    folder: Path | str

    def land(self, name: str, payload: bytes) -> None: ...

    def exists(self, name: str) -> bool: ...

    def list(self) -> list[LandedFile]: ...

    def survey(self) -> LandingSurvey:
        """The landing files and the ignored entries, from one listing (`casper status`)."""
        ...

    def read(self, name: str) -> bytes: ...

    def sweep(self) -> int:
        """Remove what a killed writer left behind (never a landed file); returns how many."""
        ...


class LandingReader(Protocol):
    """How the `@landing_records` macro (models/macros/landing.py) reads landing files on this
    engine: one query yielding the landing record contract documented there."""

    def records(
        self, adapter: EngineAdapter, names: Sequence[str], *, batch_no: int, ingested_at: str
    ) -> exp.Query: ...


# -- the refund side of the warehouse -----------------------------------------------------------


class RefundWarehouse(Protocol):
    """Delivered orders in, recommendations out, and the counts `casper status` shows. Frames have
    the same columns and dtypes on every engine (the parity tests compare them)."""

    def delivered_orders(self, window_days: float) -> pd.DataFrame: ...

    def unscored_orders(self, model_version: str) -> pd.DataFrame: ...

    def order_features(self, order_ids: list[str]) -> pd.DataFrame: ...

    def append_recommendations(self, recommendations: pd.DataFrame) -> int: ...

    def recommendations(self) -> pd.DataFrame: ...

    def fresh_recommendations(self, since: dt.datetime | None) -> pl.DataFrame:
        """Recommendations scored at or after `since` (all when None), the newest per order,
        oldest first (by ts, order_id); no rows when no recommendations table exists yet."""
        ...

    def order_context(self, order_ids: pl.Series) -> pl.DataFrame:
        """What the review app shows of each of these orders: timeline, basket and route as
        JSON, with its location's delivery-time percentiles."""
        ...

    def counts(self) -> dict[str, int | None]:
        """queries.COUNTS' figures (bronze_events, quarantined, quarantined_invalid_json,
        duplicate_events, late_events, orders, delivered_orders, recommendations): 0 for what is
        not built yet, None for what cannot be read now (e.g. another process holds it)."""
        ...


# -- the model registry -------------------------------------------------------------------------


@dataclass(frozen=True)
class RegistryTarget:
    """Which MLflow tracking server and model registry hold the refund model, and its name."""

    tracking_uri: str
    registry_uri: str
    #: where run artifacts go (None: the tracking server decides)
    artifact_location: str | None
    #: the registered name (Unity Catalog wants catalog.schema.name)
    model_name: str
    #: the experiment training runs are logged to (a workspace path on Databricks)
    experiment: str = "caspers-refunds"


# -- deploying somewhere else ------------------------------------------------------------------


class Deployment(Protocol):
    """How `casper up` and `casper down` run for an engine whose stages run elsewhere (a
    workspace): each stage's work, and undoing exactly what `up` created (recorded in the manifest's
    resources, each with whether we created it)."""

    def run_stage(self, stage: str, context: StageContext) -> str:
        """Run one stage (casper.stages.STAGE_NAMES); returns its one-line summary."""
        ...

    def teardown(self, manifest: Manifest, say: Callable[[str], None]) -> None:
        """Delete what the manifest's resources say we created, in dependency order."""
        ...

    def export(self, folder: Path) -> list[Path]:
        """Write this deployment as files another tool deploys (a Databricks Asset Bundle) under
        `folder`, without touching the workspace; returns the files written."""
        ...


# -- the engine ---------------------------------------------------------------------------------


class Engine(ABC):
    """One engine bound to the settings (and so to a home)."""

    #: the registered name, also the SQLMesh gateway's name
    name: ClassVar[str]

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.home = CasperHome(settings.home)

    # landing
    @abstractmethod
    def lander(self) -> Lander:
        """Where raw events land."""

    @abstractmethod
    def landing_reader(self) -> LandingReader:
        """How SQLMesh reads them."""

    # SQLMesh
    @abstractmethod
    def gateway_config(self) -> GatewayConfig:
        """The SQLMesh gateway that runs the medallion models (and where SQLMesh keeps state)."""

    def cli_gateway_config(self) -> GatewayConfig:
        """The gateway the `sqlmesh` CLI plans and renders with (models/config.py): by default the
        one that runs the models; an engine whose models run elsewhere may offer another."""
        return self.gateway_config()

    def release_connections(self) -> None:  # noqa: B027 - most engines hold nothing between ticks
        """Free what a tick held (file locks) so other processes can read between ticks."""

    def shutdown(self) -> None:  # noqa: B027
        """Stop what the engine started in this process (a Spark session)."""

    @abstractmethod
    def warehouse_state(self) -> list[tuple[str, Kind]]:
        """What the warehouse keeps under the home (relative paths), for `casper down` to remove."""

    # refunds
    @abstractmethod
    def warehouse(self) -> RefundWarehouse:
        """The refund side of the warehouse."""

    @abstractmethod
    def score_deliveries(self, model: Any, version: str) -> tuple[int, int]:
        """Score every delivered order `version` has not scored yet, each once, with
        casper.refunds.scoring.score_batch; returns (orders scored, orders left unscorable)."""

    @abstractmethod
    def registry_target(self) -> RegistryTarget:
        """Where the refund model is tracked and registered."""

    # deploying
    def deployment(self) -> Deployment | None:
        """None: the stages run in this process (casper/stages.py); else how they run elsewhere."""
        return None

    # the app store
    @abstractmethod
    def open_app_store(self) -> AppStore:
        """The app store the review app reads (a context manager; close it when done)."""

    @abstractmethod
    def app_store_dsn(self) -> str | None:
        """The app store's PostgreSQL DSN (with fresh credentials on each call where they expire),
        or None when it is embedded under the home. It may hold a password: never print it."""


# -- the registry of engines --------------------------------------------------------------------


@cache
def _registered() -> dict[str, Any]:
    return {point.name: point for point in entry_points(group=ENTRY_POINT_GROUP)}


def engine_names() -> tuple[str, ...]:
    return tuple(sorted(_registered()))


def engine_class(name: str) -> type[Engine]:
    registered = _registered()
    if name not in registered:
        choices = ", ".join(engine_names()) or "none registered (is the project installed?)"
        raise UnknownEngineError(f"unknown engine {name!r}: choose one of {choices}")
    return registered[name].load()


def open_engine(settings: Settings) -> Engine:
    """The engine `settings.engine` names, bound to `settings`."""
    return engine_class(settings.engine)(settings)
