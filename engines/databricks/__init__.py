"""The databricks engine: the same stages deployed to a Databricks workspace with databricks-sdk.

It has two faces. On the laptop, landing is a Unity Catalog volume through the Files API, status
reads counts through a SQL warehouse, and `casper up/down` deploy and undo the reference's stages
(engines/databricks/deploy.py). Inside a deployed job (engines/databricks/runtime.py), the same
commands run on the job's compute: landing is the volume's FUSE path, the models and the refund side
run on the job's Spark session (engines/spark_common, the code the spark engine runs locally), the
model is registered in Unity Catalog (`databricks-uc`, a three-level name) and scoring is the
Structured Streaming job with trigger availableNow.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any

from casper.engine import Engine, RegistryTarget
from engines.databricks.client import DatabricksError, workspace_client
from engines.databricks.names import WorkspaceNames
from engines.databricks.runtime import JobCompute, in_job

if TYPE_CHECKING:
    from databricks.sdk import WorkspaceClient
    from sqlmesh.core.config import GatewayConfig

    from casper.appstore.store import AppStore
    from casper.manifest import Kind
    from engines.databricks.deploy import WorkspaceDeployment
    from engines.databricks.statements import StatementWarehouse
    from engines.databricks.volume import VolumeLander
    from engines.local import LocalLander
    from engines.spark_common.landing import SparkLandingReader
    from engines.spark_common.warehouse import SessionWarehouse


class DatabricksEngine(Engine):
    name = "databricks"

    def __init__(self, settings) -> None:
        super().__init__(settings)
        #: the job's compute when this process is a deployed job's task, else None (the laptop)
        self.compute: JobCompute | None = JobCompute.current(self.names) if in_job() else None
        if self.compute is not None:
            # the home is the job's scratch; what must outlive the run is kept in the volume
            self.compute.keep_generator_state(self.home.generator)

    @cached_property
    def client(self) -> WorkspaceClient:
        return workspace_client(self.settings)

    @property
    def names(self) -> WorkspaceNames:
        return WorkspaceNames.of(self.settings)

    def task_arguments(self, command: list[str], names: WorkspaceNames | None = None) -> list[str]:
        """The `casper` command line a job task runs: this engine, with the same names (`names`,
        default the settings'). The home is the compute's default (scratch: see runtime.py)."""
        n = names or self.names
        return [
            "--catalog", n.catalog,
            "--events-volume", n.events_volume,
            "--simulator-schema", n.simulator_schema,
            *command,
            "--engine", self.name,
        ]  # fmt: skip

    # landing
    def lander(self) -> VolumeLander | LocalLander:
        """The events volume: through the Files API from a laptop, its FUSE path in a job."""
        if self.compute is not None:
            from engines.local import LocalLander

            return LocalLander(self.compute.landing)
        from engines.databricks.volume import VolumeLander

        return VolumeLander(self.client, self.names.events_path)

    def landing_reader(self) -> SparkLandingReader:
        from engines.spark_common.landing import SparkLandingReader

        return SparkLandingReader(str(self._job("reading landing files").landing))

    # SQLMesh
    def gateway_config(self) -> GatewayConfig:
        return self._job("running the SQLMesh models").gateway_config(self.home.root)

    def cli_gateway_config(self) -> GatewayConfig:
        """In a job, the models' own gateway; from a laptop, `sqlmesh plan/render` on the SQL
        warehouse with a read-only copy of the jobs' state (warehouse_gateway.py)."""
        if self.compute is not None:
            return self.gateway_config()
        from engines.databricks.warehouse_gateway import warehouse_gateway_config

        return warehouse_gateway_config(
            self.client, self.names, self._warehouse_id(), self.home.root
        )

    def release_connections(self) -> None:
        """After a tick: SQLMesh's state file released and copied back to the volume."""
        if self.compute is None:
            return
        from engines.local import release_duckdb_file

        release_duckdb_file(self.compute.local_sqlmesh_state(self.home.root))
        self.compute.save_sqlmesh_state(self.home.root)

    def warehouse_state(self) -> list[tuple[str, Kind]]:
        return []  # the warehouse is the workspace's; nothing of it lives under the home

    # refunds
    def warehouse(self) -> StatementWarehouse | SessionWarehouse:
        """In a job, the Spark tables through the job's session; from a laptop, counts (for
        status) through the SQL warehouse, the rest of the refund side being the jobs' work."""
        from engines.databricks.statements import StatementWarehouse

        if self.compute is not None:
            from engines.spark_common.warehouse import SessionWarehouse

            return SessionWarehouse(self.compute.session)

        return StatementWarehouse(self.client, self._warehouse_id(), self.names.catalog)

    def _warehouse_id(self) -> str | None:
        """The SQL warehouse: the settings' (CASPER_DATABRICKS_WAREHOUSE_ID), else the one `up`
        created and recorded."""
        from casper.manifest import Manifest

        if self.settings.databricks_warehouse_id is not None:
            return self.settings.databricks_warehouse_id
        recorded = [r for r in Manifest.load(self.home.root).resources if r.kind == "warehouse"]
        return recorded[-1].id if recorded else None

    def score_deliveries(self, model: Any, version: str) -> tuple[int, int]:
        """Refund_Recommender_Stream over the events volume, trigger availableNow, its checkpoint
        in the artifacts volume; the stream's workers load `version` from Unity Catalog."""
        from engines.spark_common.scoring import (
            FixedChampion,
            RegistryChampion,
            is_connect,
            run_refund_stream,
        )

        compute = self._job("scoring deliveries")
        spark = compute.session()
        champion = (
            RegistryChampion(self.registry_target(), str(version))
            if is_connect(spark)
            else FixedChampion(model, str(version))
        )
        compute.stream_checkpoint.parent.mkdir(parents=True, exist_ok=True)
        tally = run_refund_stream(spark, compute.landing, compute.stream_checkpoint, champion)
        return tally.scored, tally.unscorable

    def registry_target(self) -> RegistryTarget:
        """The registry is Unity Catalog. Runs are tracked by the workspace's MLflow, in a job and
        from a laptop; the local stand-in of a job tracks them under its scratch home."""
        stand_in = self.compute is not None and self.compute.stand_in is not None
        if stand_in:
            # MLflow believes it is on Databricks and probes SparkContext.getOrCreate(): here that
            # would start a classic context, after which no Spark Connect session can start
            self.compute.session()
        return RegistryTarget(
            tracking_uri=(
                f"sqlite:///{self.home.mlflow / 'mlflow.db'}" if stand_in else "databricks"
            ),
            registry_uri="databricks-uc",
            artifact_location=(self.home.mlflow / "artifacts").as_uri() if stand_in else None,
            model_name=self.names.model_name,
            experiment=self.names.experiment_path,
        )

    # deploying
    def deployment(self) -> WorkspaceDeployment:
        from engines.databricks.deploy import WorkspaceDeployment

        return WorkspaceDeployment(self)

    # the app store: Lakebase, with a fresh OAuth password for every connection (tokens last an hour)
    def open_app_store(self) -> AppStore:
        """In a job (the reverse ETL), the job's identity owns the store's tables: the app's own
        identity, once the app exists, is granted what the review app needs in them."""
        from casper.appstore.store import open_store
        from engines.databricks.client import workspace_errors
        from engines.databricks.lakebase import Lakebase

        lakebase = Lakebase(self.client, self.names)
        with workspace_errors("the Lakebase app store", self.client.config.host):
            conninfo = lakebase.conninfo()

        def fresh_password() -> str:
            from casper.appstore.store import StoreError

            try:
                with workspace_errors("a Lakebase password", self.client.config.host):
                    return lakebase.password()
            except DatabricksError as failed:  # the app store's callers expect a StoreError
                raise StoreError(f"app store (Lakebase): {failed}") from None

        # a fresh OAuth token for every connection: a reconnect after the first hour needs one
        store = open_store(self.home, conninfo, password=fresh_password)
        if self.compute is not None:
            try:
                principal = self._app_principal()
                if principal:
                    store.grant_reviewer(principal)
            except BaseException:
                store.close()
                raise
        return store

    def _app_principal(self) -> str | None:
        """The client id of the review app's service principal (its PostgreSQL role), if the
        app exists yet."""
        from databricks.sdk.errors import NotFound

        from engines.databricks.client import workspace_errors

        with workspace_errors("finding the review app", self.client.config.host):
            try:
                app = self.client.apps.get(self.names.app_name)
            except NotFound:
                return None
        return app.service_principal_client_id

    def app_store_dsn(self) -> str | None:
        from engines.databricks.client import workspace_errors
        from engines.databricks.lakebase import Lakebase

        with workspace_errors("the Lakebase app store", self.client.config.host):
            return Lakebase(self.client, self.names).dsn()

    def _job(self, what: str) -> JobCompute:
        """The job's compute; from a laptop, one clear error: that work runs in the jobs."""
        if self.compute is None:
            raise DatabricksError(
                f"{what} on the databricks engine runs inside the deployed jobs: "
                "`casper up --engine databricks` deploys and runs them"
            )
        return self.compute
