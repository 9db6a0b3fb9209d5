"""The databricks engine: the same stages deployed to a Databricks workspace with databricks-sdk.

Landing is a Unity Catalog volume (Files API), the refund model lives in Unity Catalog
(`databricks-uc`, a three-level name), and `casper up/down` deploy and undo the reference's stages
(engines/databricks/deploy.py). What runs inside the deployed jobs (SQLMesh on Databricks Spark,
the UC registry from a job, the streaming scorer, Lakebase) is the engine's runtime face, which is
not built yet: those parts of the port answer with one clear error instead of doing something else.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any

from casper.engine import Engine, RegistryTarget
from engines.databricks.client import DatabricksError, workspace_client
from engines.databricks.names import WorkspaceNames

if TYPE_CHECKING:
    from databricks.sdk import WorkspaceClient
    from sqlmesh.core.config import GatewayConfig

    from casper.appstore.store import AppStore
    from casper.manifest import Kind
    from engines.databricks.deploy import WorkspaceDeployment
    from engines.databricks.statements import StatementWarehouse
    from engines.databricks.volume import VolumeLander

#: where a job's task keeps its home on Databricks compute (state that must survive runs goes to
#: the volumes; this is scratch)
JOB_HOME = "/tmp/casper-home"


class DatabricksEngine(Engine):
    name = "databricks"

    @cached_property
    def client(self) -> WorkspaceClient:
        return workspace_client(self.settings)

    @property
    def names(self) -> WorkspaceNames:
        return WorkspaceNames.of(self.settings)

    def task_arguments(self, command: list[str], names: WorkspaceNames | None = None) -> list[str]:
        """The `casper` command line a job task runs: this engine, with the same names (`names`,
        default the settings')."""
        n = names or self.names
        return [
            "--home", JOB_HOME,
            "--catalog", n.catalog,
            "--events-volume", n.events_volume,
            "--simulator-schema", n.simulator_schema,
            *command,
            "--engine", self.name,
        ]  # fmt: skip

    # landing
    def lander(self) -> VolumeLander:
        from engines.databricks.volume import VolumeLander

        return VolumeLander(self.client, self.names.events_path)

    def landing_reader(self):
        raise self._runtime_only("reading landing files with SQLMesh")

    # SQLMesh
    def gateway_config(self) -> GatewayConfig:
        raise self._runtime_only("running the SQLMesh models")

    def warehouse_state(self) -> list[tuple[str, Kind]]:
        return []  # the warehouse is the workspace's; nothing of it lives under the home

    # refunds
    def warehouse(self) -> StatementWarehouse:
        """Counts for status through the SQL warehouse; the rest of the refund warehouse runs
        inside the jobs."""
        from casper.manifest import Manifest
        from engines.databricks.statements import StatementWarehouse

        warehouse_id = self.settings.databricks_warehouse_id
        if warehouse_id is None:
            recorded = [r for r in Manifest.load(self.home.root).resources if r.kind == "warehouse"]
            warehouse_id = recorded[-1].id if recorded else None
        return StatementWarehouse(self.client, warehouse_id, self.names.catalog)

    def score_deliveries(self, model: Any, version: str) -> tuple[int, int]:
        raise self._runtime_only("scoring deliveries")

    def registry_target(self) -> RegistryTarget:
        # tracking stays with the workspace's MLflow; the registry is Unity Catalog
        return RegistryTarget(
            tracking_uri="databricks",
            registry_uri="databricks-uc",
            artifact_location=None,
            model_name=self.names.model_name,
        )

    # deploying
    def deployment(self) -> WorkspaceDeployment:
        from engines.databricks.deploy import WorkspaceDeployment

        return WorkspaceDeployment(self)

    # the app store: Lakebase, with a fresh OAuth password in every DSN (tokens last an hour)
    def open_app_store(self) -> AppStore:
        from casper.appstore.store import open_store

        return open_store(self.home, self.app_store_dsn())

    def app_store_dsn(self) -> str | None:
        from engines.databricks.client import workspace_errors
        from engines.databricks.lakebase import Lakebase

        with workspace_errors("the Lakebase app store", self.client.config.host):
            return Lakebase(self.client, self.names).dsn()

    def _runtime_only(self, what: str) -> DatabricksError:
        return DatabricksError(
            f"{what} on the databricks engine runs inside the deployed jobs, which this version "
            "does not build yet: use `casper up --engine databricks` to deploy, or a laptop engine"
        )
