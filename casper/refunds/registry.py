"""The refund model in MLflow: log a trained version, register it, point the `champion` alias at it.

Which tracking server and registry (local sqlite, or Databricks' Unity Catalog) is the engine's
answer; this module is the same for every engine.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

import mlflow  # noqa: E402  (telemetry must be off before MLflow is imported)
import mlflow.pyfunc  # noqa: E402
import pandas as pd  # noqa: E402
from mlflow import MlflowClient  # noqa: E402
from mlflow.exceptions import MlflowException  # noqa: E402

from casper.errors import CasperError  # noqa: E402

# MLflow narrates every registration on stderr; our commands say what matters in one line.
logging.getLogger("mlflow").setLevel(logging.WARNING)

EXPERIMENT = "caspers-refunds"
CHAMPION = "champion"
MODEL_INPUT = (
    "order_id",
    "location",
    "delivery_minutes",
    "order_total",
    "distance_km",
    "total_items",
    "created_hour",
)
MODEL_OUTPUT = ("refund_class", "refund_usd", "reason")


class NoChampionError(CasperError):
    pass


@dataclass(frozen=True)
class RegistryTarget:
    tracking_uri: str
    registry_uri: str
    artifact_location: str | None
    model_name: str

    @classmethod
    def of(cls, engine) -> RegistryTarget:
        return cls(
            engine.tracking_uri(),
            engine.registry_uri(),
            engine.artifact_location(),
            engine.model_name(),
        )


def _mlflow(target: RegistryTarget):
    if target.tracking_uri.startswith("sqlite:///"):
        Path(target.tracking_uri.removeprefix("sqlite:///")).parent.mkdir(
            parents=True, exist_ok=True
        )
    mlflow.set_tracking_uri(target.tracking_uri)
    mlflow.set_registry_uri(target.registry_uri)
    if mlflow.get_experiment_by_name(EXPERIMENT) is None:
        mlflow.create_experiment(EXPERIMENT, artifact_location=target.artifact_location)
    mlflow.set_experiment(EXPERIMENT)
    return mlflow


class RefundPyfunc(mlflow.pyfunc.PythonModel):
    """pandas in (MODEL_INPUT), pandas out (MODEL_OUTPUT); any estimator with `recommend(frame)`."""

    def __init__(self, estimator) -> None:
        self.estimator = estimator

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        return self.estimator.recommend(model_input)[list(MODEL_OUTPUT)].reset_index(drop=True)


@dataclass(frozen=True)
class RegisteredVersion:
    name: str
    version: str
    run_id: str


def register(
    target: RegistryTarget,
    estimator,
    *,
    params: dict[str, Any],
    metrics: dict[str, float],
    documents: dict[str, Any],
    input_example: pd.DataFrame,
    promote: bool = True,
) -> RegisteredVersion:
    """Log the estimator as a run, register a new version, and (if `promote`) make it champion."""
    _mlflow(target)
    with mlflow.start_run() as run:
        mlflow.log_params(params)
        mlflow.log_metrics(metrics)
        with tempfile.TemporaryDirectory() as folder:
            for name, document in documents.items():
                path = Path(folder) / name
                path.write_text(json.dumps(document, indent=2, default=str))
                mlflow.log_artifact(str(path))
        info = mlflow.pyfunc.log_model(
            name="refund_model",
            python_model=RefundPyfunc(estimator),
            input_example=input_example[list(MODEL_INPUT)].head(5),
            pip_requirements=["scikit-learn", "pandas", "numpy"],
            registered_model_name=target.model_name,
        )
    version = str(info.registered_model_version)
    if promote:
        MlflowClient().set_registered_model_alias(target.model_name, CHAMPION, version)
    return RegisteredVersion(target.model_name, version, run.info.run_id)


def champion_version(target: RegistryTarget) -> str | None:
    """The version the champion alias points at, or None."""
    _mlflow(target)
    try:
        return str(MlflowClient().get_model_version_by_alias(target.model_name, CHAMPION).version)
    except MlflowException:
        return None


def load_champion(target: RegistryTarget):
    """(pyfunc model, version) of `models:/<name>@champion`."""
    version = champion_version(target)
    if version is None:
        raise NoChampionError(
            f"no champion refund model in {target.registry_uri}: run `casper refunds train` first"
        )
    _mlflow(target)
    return mlflow.pyfunc.load_model(f"models:/{target.model_name}@{CHAMPION}"), version


def version_metrics(target: RegistryTarget, version: str) -> dict[str, float]:
    _mlflow(target)
    client = MlflowClient()
    run_id = client.get_model_version(target.model_name, version).run_id
    return dict(client.get_run(run_id).data.metrics)
