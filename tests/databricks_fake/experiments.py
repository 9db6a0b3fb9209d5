"""MLflow experiments (REST 2.0 `mlflow/experiments`), answered with the SDK's `ml` dataclasses.

On Databricks the tracking server lives in the workspace: a job's MLflow creates its experiment there
(`/Shared/...`, a workspace path whose folder must exist), and `w.experiments` (or MLflow's client,
over the same routes) finds it by name and deletes it. As on Databricks:

- a delete is soft: the experiment stays, with lifecycle_stage "deleted", and get-by-name still
  answers with it when no active experiment has that name (it prefers the active one);
- a deleted experiment's name can be used again (OSS MLflow refuses that; Databricks does not);
- get-by-name of a name nothing has answers 404 RESOURCE_DOES_NOT_EXIST.

`fake.state()["experiments"]` lists the active ones.
"""

from __future__ import annotations

import itertools
from dataclasses import replace
from typing import TYPE_CHECKING

from databricks.sdk.service.ml import (
    CreateExperimentResponse,
    Experiment,
    ExperimentTag,
    GetExperimentByNameResponse,
)
from databricks.sdk.service.workspace import ObjectType

from .routing import Request, already_exists, invalid, not_found
from .workspace_files import normalise

if TYPE_CHECKING:
    from .workspace import FakeWorkspace

EXPERIMENTS = "/api/2.0/mlflow/experiments"
MISSING = "RESOURCE_DOES_NOT_EXIST"
ACTIVE, DELETED = "active", "deleted"


class Experiments:
    def __init__(self, ws: FakeWorkspace):
        self.ws = ws
        self._ids = itertools.count(3_141_592_653_589_793)
        #: every experiment made, deleted ones too, by id
        self.experiments: dict[str, Experiment] = {}

    def routes(self):
        return [
            ("POST", f"{EXPERIMENTS}/create", self.create),
            ("GET", f"{EXPERIMENTS}/get-by-name", self.get_by_name),
            ("POST", f"{EXPERIMENTS}/delete", self.delete),
        ]

    # -- state ---------------------------------------------------------------------------------

    def active_names(self) -> list[str]:
        return sorted(e.name for e in self.experiments.values() if e.lifecycle_stage == ACTIVE)

    def named(self, name: str) -> Experiment | None:
        """The active experiment of that name, else a deleted one, else None."""
        found = [e for e in self.experiments.values() if e.name == name]
        active = [e for e in found if e.lifecycle_stage == ACTIVE]
        return (active or found[-1:] or [None])[0]

    def add(
        self,
        name: str,
        artifact_location: str | None = None,
        tags: list[ExperimentTag] | None = None,
    ) -> Experiment:
        if not name or not name.startswith("/"):
            raise invalid(
                f"Got an invalid experiment name '{name}'. An experiment name must be an absolute "
                "path within the Databricks workspace, e.g. '/Users/<some-username>/my-experiment'."
            )
        parent = name.rstrip("/").rsplit("/", 1)[0] or "/"
        folder = self.ws.workspace_files.objects.get(normalise(parent))
        if folder is None or folder.object_type != ObjectType.DIRECTORY:
            raise not_found(f"Parent directory {parent} does not exist.", error_code=MISSING)
        existing = self.named(name)
        if existing is not None and existing.lifecycle_stage == ACTIVE:
            raise already_exists(f"Experiment '{name}' already exists.")
        experiment_id = str(next(self._ids))
        now = self.ws.now_ms()
        experiment = Experiment(
            experiment_id=experiment_id,
            name=name,
            artifact_location=artifact_location
            or f"dbfs:/databricks/mlflow-tracking/{experiment_id}",
            lifecycle_stage=ACTIVE,
            creation_time=now,
            last_update_time=now,
            tags=tags or None,
        )
        self.experiments[experiment_id] = experiment
        return experiment

    # -- handlers ------------------------------------------------------------------------------

    def create(self, request: Request):
        body = request.json()
        tags = [ExperimentTag.from_dict(t) for t in body.get("tags") or []]
        experiment = self.add(body.get("name", ""), body.get("artifact_location"), tags)
        return CreateExperimentResponse(experiment_id=experiment.experiment_id).as_dict()

    def get_by_name(self, request: Request):
        name = request.query.get("experiment_name", "")
        found = self.named(name)
        if found is None:
            raise not_found(f"Could not find experiment with name {name}", error_code=MISSING)
        return GetExperimentByNameResponse(experiment=found).as_dict()

    def delete(self, request: Request):
        experiment_id = str(request.json().get("experiment_id", ""))
        if experiment_id not in self.experiments:
            raise not_found(f"No Experiment with id={experiment_id} exists", error_code=MISSING)
        # a deleted one is deleted again without complaint (what Databricks answers is unchecked;
        # the engine never asks: it skips what get-by-name says is deleted)
        self.experiments[experiment_id] = replace(
            self.experiments[experiment_id],
            lifecycle_stage=DELETED,
            last_update_time=self.ws.now_ms(),
        )
        return {}
