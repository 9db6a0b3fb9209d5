"""What the databricks engine calls things in a workspace, from the settings (the reference job's
CATALOG, EVENTS_VOLUME and SIMULATOR_SCHEMA). One place, so `up`, `down` and the jobs agree."""

from __future__ import annotations

from dataclasses import dataclass

from casper.settings import Settings

#: the reference's schemas (SPEC.md): the simulator schema is a parameter, these are not
PIPELINE_SCHEMAS = ("lakeflow", "ai", "recommender")
#: the volume holding the project's wheel, beside the events volume
ARTIFACTS_VOLUME = "artifacts"
#: jobs are named caspers-<catalog>-<stage>
JOB_PREFIX = "caspers"
#: the reference's Databricks App
APP_NAME = "refundmanager"


@dataclass(frozen=True)
class WorkspaceNames:
    catalog: str
    simulator_schema: str
    events_volume: str

    @classmethod
    def of(cls, settings: Settings) -> WorkspaceNames:
        return cls(settings.catalog, settings.simulator_schema, settings.events_volume)

    @property
    def schemas(self) -> tuple[str, ...]:
        return (self.simulator_schema, *PIPELINE_SCHEMAS)

    @property
    def events_volume_full_name(self) -> str:
        return f"{self.catalog}.{self.simulator_schema}.{self.events_volume}"

    @property
    def artifacts_volume_full_name(self) -> str:
        return f"{self.catalog}.{self.simulator_schema}.{ARTIFACTS_VOLUME}"

    @property
    def events_path(self) -> str:
        """The landing folder: a FUSE path on Databricks compute, a Files API path from outside."""
        return f"/Volumes/{self.catalog}/{self.simulator_schema}/{self.events_volume}"

    @property
    def artifacts_path(self) -> str:
        return f"/Volumes/{self.catalog}/{self.simulator_schema}/{ARTIFACTS_VOLUME}"

    @property
    def sqlmesh_state_path(self) -> str:
        """SQLMesh's state (a DuckDB file) in the artifacts volume: the lakeflow job keeps it
        there between runs, the laptop's gateway reads a copy of it."""
        return f"{self.artifacts_path}/sqlmesh/state.duckdb"

    @property
    def model_name(self) -> str:
        """The refund model in Unity Catalog: catalog.schema.model."""
        return f"{self.catalog}.ai.refund_model"

    @property
    def app_name(self) -> str:
        return APP_NAME

    @property
    def experiment_name(self) -> str:
        """The MLflow experiment of the refund model's training runs (under /Shared)."""
        return f"{JOB_PREFIX}-{self.catalog}-refunds"

    @property
    def experiment_path(self) -> str:
        """That experiment's name in the workspace's MLflow, a workspace path: the refund_agent
        job's runs make it, `down` deletes it."""
        return f"/Shared/{self.experiment_name}"

    def job_name(self, stage: str) -> str:
        return f"{JOB_PREFIX}-{self.catalog}-{stage}"
