"""The databricks gateway from a laptop: `sqlmesh plan` and `sqlmesh render` against the SQL warehouse.

    sqlmesh -p models --config databricks_config render lakeflow.gold_order_header
    sqlmesh -p models --config databricks_config plan

The models themselves run in the lakeflow job (engines/databricks/runtime.py), which keeps SQLMesh's
state in a DuckDB file in the artifacts volume. This gateway reads a copy of that file, downloaded
afresh each time the config is built, opened read-only: `render` shows the SQL the warehouse would
run (three-level names, the databricks dialect) and `plan` shows what differs between the project on
the laptop and what the jobs have built. Applying a plan from here is refused before anything is
written: the gateway's scheduler refuses to evaluate a plan (one line from the sqlmesh CLI), and
behind it the state copy is read-only (SQLMesh records a plan's snapshots in the state before it
touches a table; `sqlmesh run` fails on that too). Two writers of one state file (this laptop and the scheduled lakeflow job) would
lose each other's changes, and the landing files are read only by the job (its Spark session reads
the volume's FUSE path); changed models reach the workspace with `casper up --engine databricks`,
whose lakeflow run plans and applies them.

SQL goes to the warehouse through databricks-sql-connector (in the `databricks` extra), with the
SDK's unified authentication: the bearer token the workspace client would send, never written
anywhere (the connection config keeps it out of its repr).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlparse

from pydantic import Field
from sqlmesh.core.config import DatabricksConnectionConfig, DuckDBConnectionConfig, GatewayConfig
from sqlmesh.core.config.connection import DuckDBAttachOptions
from sqlmesh.core.config.scheduler import BuiltInSchedulerConfig
from sqlmesh.core.plan.evaluator import PlanEvaluator
from sqlmesh.utils.errors import SQLMeshError

from engines.databricks.client import DatabricksError, workspace_errors
from engines.databricks.names import WorkspaceNames
from engines.local import release_duckdb_file

if TYPE_CHECKING:
    from databricks.sdk import WorkspaceClient

#: the state copy under the home (the job's own copy lives in its scratch, never on the laptop)
STATE_COPY = Path("sqlmesh") / "databricks-state.duckdb"
#: the copy's catalog name, which is what SQLMesh's error names when an apply is refused
STATE_CATALOG = "read_only_copy_of_the_jobs_state"


def warehouse_gateway_config(
    client: WorkspaceClient, names: WorkspaceNames, warehouse_id: str | None, home: Path
) -> GatewayConfig:
    """The gateway on the SQL warehouse, with a read-only copy of the jobs' SQLMesh state."""
    try:
        import databricks.sql  # noqa: F401  (the connector SQLMesh's databricks engine uses)
    except ImportError:
        raise DatabricksError(
            "the laptop's databricks gateway needs databricks-sql-connector: "
            "pip install 'caspers-kitchens[databricks]'"
        ) from None
    if warehouse_id is None:
        raise DatabricksError(
            "no SQL warehouse for the databricks gateway: `casper up --engine databricks` creates "
            "one, or name yours with CASPER_DATABRICKS_WAREHOUSE_ID"
        )
    state = download_state(client, names, home / STATE_COPY)
    return GatewayConfig(
        scheduler=PlanOnlyScheduler(),
        connection=_connection(client, names, warehouse_id),
        state_connection=DuckDBConnectionConfig(
            catalogs={
                STATE_CATALOG: DuckDBAttachOptions(type="duckdb", path=str(state), read_only=True)
            },
            concurrent_tasks=2,  # as the warehouse's: SQLMesh asks for it
        ),
        test_connection=DuckDBConnectionConfig(),
    )


APPLY_REFUSED = (
    "plans are applied by the lakeflow job, the only writer of the jobs' SQLMesh state; this "
    "gateway shows plans and renders models: deploy changed models with `casper up --engine databricks`"
)


class RefusingPlanEvaluator(PlanEvaluator):
    def evaluate(self, plan, circuit_breaker=None) -> None:
        raise SQLMeshError(APPLY_REFUSED)


class PlanOnlyScheduler(BuiltInSchedulerConfig):
    """SQLMesh's own scheduler, except that applying a plan is one clear error (the sqlmesh CLI
    prints a SQLMeshError as one line); the read-only state copy backs it up."""

    def create_plan_evaluator(self, context) -> PlanEvaluator:
        return RefusingPlanEvaluator()


def download_state(client: WorkspaceClient, names: WorkspaceNames, target: Path) -> Path:
    """The volume's state file copied to `target` (whole, then renamed). Before the lakeflow job
    has run there is none: then an empty state is made, so `render` works before any deploy."""
    from databricks.sdk.errors import NotFound

    target.parent.mkdir(parents=True, exist_ok=True)
    release_duckdb_file(target, forget=True)  # an earlier copy's adapter must not be reused
    partial = target.with_name(f".{target.name}.partial")
    with workspace_errors("reading SQLMesh's state from the artifacts volume", client.config.host):
        try:
            response = client.files.download(names.sqlmesh_state_path)
        except NotFound:
            response = None
        if response is not None:
            with response.contents as stream, partial.open("wb") as out:
                while chunk := stream.read(1 << 20):
                    out.write(chunk)
    if response is None:
        _empty_state(partial)
    os.replace(partial, target)
    return target


def _empty_state(path: Path) -> None:
    """A state file holding SQLMesh's state tables and nothing in them (a read-only state must
    already have them: SQLMesh would otherwise try to create them)."""
    from sqlmesh.core.state_sync import EngineAdapterStateSync

    path.unlink(missing_ok=True)
    adapter = DuckDBConnectionConfig(database=str(path)).create_engine_adapter()
    try:
        EngineAdapterStateSync(adapter, schema="sqlmesh").migrate()
    finally:
        release_duckdb_file(path, forget=True)


class WarehouseConnectionConfig(DatabricksConnectionConfig):
    """SQLMesh's databricks connection, its token kept out of its repr."""

    access_token: str | None = Field(default=None, repr=False)

    def __str__(self) -> str:  # SQLMesh's own __str__ (its __repr__ too) lists every field
        text = super().__str__()
        return text.replace(self.access_token, "***") if self.access_token else text


def _connection(
    client: WorkspaceClient, names: WorkspaceNames, warehouse_id: str
) -> WarehouseConnectionConfig:
    host = urlparse(client.config.host or "")
    return WarehouseConnectionConfig(
        server_hostname=host.netloc or host.path,
        http_path=f"/sql/1.0/warehouses/{warehouse_id}",
        access_token=_bearer_token(client),
        catalog=names.catalog,
        # a laptop with databricks-connect or a Spark session must still go to the warehouse
        disable_databricks_connect=True,
        disable_spark_session=True,
        concurrent_tasks=2,
    )


def _bearer_token(client: WorkspaceClient) -> str:
    """The token the SDK's unified auth sends (a PAT, or an OAuth token it refreshes)."""
    with workspace_errors("authenticating for the SQL warehouse", client.config.host):
        header = client.config.authenticate().get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise DatabricksError(
            "the databricks gateway needs a bearer token (a personal access token or OAuth); "
            "this profile's authentication gives none"
        )
    return token
