"""The databricks engine inside a deployed job: the compute a task runs on.

A job's task is our `casper` entry point (engines/databricks/deploy.py). There the engine works
with what the compute gives: Databricks sets DATABRICKS_RUNTIME_VERSION; the volumes are a FUSE
path (`/Volumes/<catalog>/<schema>/<volume>/...`), so the laptop's file lander, the Spark landing
reader and the stream's file source work on them unchanged; the Spark session is the job's (Spark
Connect on serverless compute), with the deployment's catalog as its current catalog, so the models'
two-level names (`lakeflow.all_events`) are `<catalog>.lakeflow.all_events`.

What must survive a run lives in the artifacts volume, because the compute is ephemeral:
- SQLMesh's state: a DuckDB file (`<artifacts>/sqlmesh/state.duckdb`), copied to local disk
  before the models run and back after (DuckDB writes at random offsets, which a FUSE volume does
  not allow; jobs have max_concurrent_runs 1, so no two runs race). Why DuckDB: SQLMesh refuses
  Spark as a state engine and discourages Databricks; PostgreSQL (Lakebase) is the other good
  choice, but Lakebase is a later stage than lakeflow, and a file needs no credentials.
- the generator's state (the simulation's anchor and the live checkpoints), which `up` uploads
  from the laptop: copied into the job's home when the engine opens and back when the process ends.
- the scorer's stream checkpoint (`<artifacts>/checkpoints/refund_stream`).

The local stand-in (tests run the deployed jobs on this machine): CASPER_DATABRICKS_STAND_IN names
a folder that plays the workspace's storage. Its `Volumes/` is where the Files API of the local fake
keeps volume files, and its `spark/` holds a local Spark Connect session's parquet warehouse and
Derby metastore (one catalog: the deployment's catalog is that metastore). SQLMesh runs there with
its spark engine on that Spark Connect session; on Databricks with its databricks engine on the
job's session (parquet tables cannot be replaced the way the databricks engine does with Delta).
"""

from __future__ import annotations

import atexit
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from engines.databricks.names import WorkspaceNames

if TYPE_CHECKING:
    from pyspark.sql import SparkSession
    from sqlmesh.core.config import GatewayConfig

#: set by Databricks on its compute (and by the local stand-in)
RUNTIME_ENV = "DATABRICKS_RUNTIME_VERSION"
#: a folder standing in for the workspace's storage and compute (tests only)
STAND_IN_ENV = "CASPER_DATABRICKS_STAND_IN"
#: the generator state under the artifacts volume
GENERATOR_FOLDER = "generator"


def in_job() -> bool:
    """Whether this process runs on Databricks compute (a job's task), not on a laptop."""
    return bool(os.environ.get(RUNTIME_ENV))


@dataclass(frozen=True)
class JobCompute:
    """Where a job's task finds things: volumes, its Spark session, SQLMesh's state."""

    names: WorkspaceNames
    #: the local folder standing in for the workspace (None on Databricks)
    stand_in: Path | None

    @classmethod
    def current(cls, names: WorkspaceNames) -> JobCompute:
        stand_in = os.environ.get(STAND_IN_ENV)
        return cls(names, Path(stand_in) if stand_in else None)

    # -- volumes -----------------------------------------------------------------------------

    def volume_path(self, api_path: str) -> Path:
        """The file system path of a `/Volumes/...` path on this compute."""
        if self.stand_in is None:
            return Path(api_path)
        return self.stand_in / api_path.lstrip("/")

    @property
    def landing(self) -> Path:
        return self.volume_path(self.names.events_path)

    @property
    def artifacts(self) -> Path:
        return self.volume_path(self.names.artifacts_path)

    @property
    def stream_checkpoint(self) -> Path:
        return self.artifacts / "checkpoints" / "refund_stream"

    @property
    def sqlmesh_state(self) -> Path:
        return self.volume_path(self.names.sqlmesh_state_path)

    @property
    def generator_state(self) -> Path:
        return self.artifacts / GENERATOR_FOLDER

    # -- Spark -------------------------------------------------------------------------------

    def session(self) -> SparkSession:
        """The job's Spark session, its current catalog the deployment's."""
        from pyspark.sql import SparkSession

        if self.stand_in is not None:
            from engines.databricks.connect_gateway import connect_session

            return connect_session(self._stand_in_conf())
        spark = SparkSession.getActiveSession() or SparkSession.builder.getOrCreate()
        spark.sql(f"USE CATALOG `{self.names.catalog}`")
        return spark

    def _stand_in_conf(self) -> dict[str, str]:
        from engines.spark_common.conf import local_conf

        assert self.stand_in is not None
        return {
            **local_conf(self.stand_in / "spark", app_name="casper-job"),
            # the local Spark Connect server answers this machine only
            "spark.connect.grpc.binding.address": "127.0.0.1",
        }

    # -- SQLMesh -----------------------------------------------------------------------------

    def gateway_config(self, scratch: Path) -> GatewayConfig:
        """The models' gateway on this compute, with SQLMesh's state in a local copy of the
        volume's state file (`save_sqlmesh_state` puts it back)."""
        from sqlmesh.core.config import (
            DatabricksConnectionConfig,
            DuckDBConnectionConfig,
            GatewayConfig,
        )

        local_state = self.local_sqlmesh_state(scratch)
        local_state.parent.mkdir(parents=True, exist_ok=True)
        if self.sqlmesh_state.is_file():
            shutil.copyfile(self.sqlmesh_state, local_state)
        if self.stand_in is not None:
            from engines.databricks.connect_gateway import SparkConnectConnectionConfig

            connection = SparkConnectConnectionConfig(
                config=self._stand_in_conf(), concurrent_tasks=2, register_comments=False
            )
        else:
            # on Databricks compute SQLMesh's databricks engine uses the job's Spark session
            connection = DatabricksConnectionConfig(catalog=self.names.catalog, concurrent_tasks=2)
        return GatewayConfig(
            connection=connection,
            state_connection=DuckDBConnectionConfig(database=str(local_state)),
            test_connection=DuckDBConnectionConfig(),
        )

    @staticmethod
    def local_sqlmesh_state(scratch: Path) -> Path:
        return scratch / "sqlmesh" / "state.duckdb"

    def save_sqlmesh_state(self, scratch: Path) -> None:
        """Copy the state back to the volume (whole, then renamed: a reader never sees half)."""
        local_state = self.local_sqlmesh_state(scratch)
        if local_state.is_file():
            _copy_whole(local_state, self.sqlmesh_state)

    # -- the generator's state ---------------------------------------------------------------

    def keep_generator_state(self, folder: Path) -> None:
        """Bring the volume's generator state into `folder` (the job's home) now, and put back
        what this process changed when it ends: `casper live` continues the simulation `up`
        started. Only changed files go back, so a job that does not generate (the pipeline,
        running beside the live job) never rewinds the simulation."""
        brought: dict[str, bytes] = {}
        if self.generator_state.is_dir():
            shutil.copytree(self.generator_state, folder, dirs_exist_ok=True)
            brought = _contents(folder)
        atexit.register(self._save_generator_state, folder, brought)

    def _save_generator_state(self, folder: Path, brought: dict[str, bytes]) -> None:
        for name, content in _contents(folder).items():
            if brought.get(name) != content:
                _copy_whole(folder / name, self.generator_state / name)


def _contents(folder: Path) -> dict[str, bytes]:
    """The visible files under `folder` by relative path."""
    if not folder.is_dir():
        return {}
    return {
        path.relative_to(folder).as_posix(): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file() and not path.name.startswith(".")
    }


def _copy_whole(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    shutil.copyfile(source, temporary)
    os.replace(temporary, target)
