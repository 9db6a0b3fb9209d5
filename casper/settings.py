"""The one settings object: where state lives, which engine runs, where the app store is, and the
reference job's parameters. CLI options and CASPER_* environment variables both map onto it (an
option given on the command line wins over the variable)."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from casper.errors import CasperError

DEFAULT_HOME = Path(".casper")
DEFAULT_ENGINE = "duckdb"


class SettingsError(CasperError):
    pass


class Settings(BaseSettings):
    """`CASPER_HOME`, `CASPER_ENGINE`, `CASPER_APP_STORE`, `CASPER_CATALOG`, ..."""

    model_config = SettingsConfigDict(env_prefix="CASPER_", extra="ignore", frozen=True)

    #: all local state: landing files, warehouse, MLflow, app store, manifest
    home: Path = DEFAULT_HOME
    #: the engine's registered name (casper.engine.engine_names())
    engine: str = DEFAULT_ENGINE
    #: a PostgreSQL DSN for the app store; None = embedded SQLite under the home
    app_store: str | None = None
    #: the reference job's parameters (SPEC.md section 6), read by the databricks engine
    catalog: str = "caspers"
    events_volume: str = "events"
    simulator_schema: str = "simulator"
    #: the Databricks CLI profile (~/.databrickscfg) the databricks engine authenticates with
    databricks_profile: str | None = Field(default=None)
    #: the SQL warehouse `casper status --engine databricks` asks (else the one `up` created)
    databricks_warehouse_id: str | None = None
    #: how long a tick or a sync waits for another process to let go of the local warehouse file
    warehouse_wait_seconds: float = Field(default=30.0, ge=0)
    #: SQLMesh's parse cache; None = the user's cache folder (`sqlmesh_cache_dir`)
    sqlmesh_cache: Path | None = None

    @field_validator("home")
    @classmethod
    def _absolute(cls, home: Path) -> Path:
        home = Path(home).expanduser().absolute()
        if home.exists() and not home.is_dir():
            raise ValueError(f"{home} is a file, not a folder")
        return home

    @field_validator("sqlmesh_cache")
    @classmethod
    def _cache_folder(cls, folder: Path | None) -> Path | None:
        if folder is None:
            return None
        folder = Path(folder).expanduser().absolute()
        if folder.exists() and not folder.is_dir():
            raise ValueError(f"{folder} is a file, not a folder")
        return folder

    @property
    def sqlmesh_cache_dir(self) -> Path:
        """Where SQLMesh keeps the models it parsed and the queries it rendered. Its entries are
        named by what they were made from and cleaned by SQLMesh itself, so one folder serves
        every home: a parsed model is keyed by the whole config, which names the home, but most
        models' rendered queries (all but those reading the home's own files) by the model
        alone, and a new home reuses them, loading the project in about half the time (0.5 s
        less). By default a folder in the user's cache; the home's own when that cannot be
        written."""
        if self.sqlmesh_cache is not None:
            return self.sqlmesh_cache
        import platformdirs

        shared = Path(platformdirs.user_cache_dir("casper")) / "sqlmesh"
        own = self.home / "sqlmesh" / "cache"
        try:
            shared.mkdir(parents=True, exist_ok=True)
        except OSError:
            return own
        return shared if os.access(shared, os.W_OK) else own

    @field_validator("catalog", "events_volume", "simulator_schema")
    @classmethod
    def _identifier(cls, name: str) -> str:
        if not name or not all(c.isalnum() or c == "_" for c in name):
            raise ValueError(f"{name!r} is not a plain identifier (letters, digits, _)")
        return name

    @classmethod
    def load(cls, **given: object) -> Settings:
        """Environment variables, overridden by the values given (None means not given)."""
        try:
            return cls(**{key: value for key, value in given.items() if value is not None})
        except ValidationError as exc:
            problem = exc.errors()[0]
            where = ".".join(str(part) for part in problem["loc"]) or "settings"
            variable = f"CASPER_{where.upper()}"
            # A value given explicitly (an option) wins over the variable, so only a value that
            # was not given can have come from it.
            from_variable = variable in os.environ and given.get(where) is None
            origin = f" (from ${variable})" if from_variable else ""
            message = str(problem["msg"]).removeprefix("Value error, ")
            raise SettingsError(f"setting {where}{origin}: {message}") from None
