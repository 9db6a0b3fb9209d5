"""The refund model in MLflow: log a trained version, register it, point the `champion` alias at it.

Which tracking server and registry (local sqlite, or Databricks' Unity Catalog) is the engine's
answer (Engine.registry_target); this module is the same for every engine.
"""

from __future__ import annotations

import json
import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import joblib
import mlflow
import mlflow.pyfunc
import pandas as pd
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from casper.engine import RegistryTarget
from casper.errors import CasperError
from casper.refunds import CHAMPION, ORDER_TIMES, SCORING_INPUT

# MLflow narrates every registration on stderr; our commands say what matters in one line.
logging.getLogger("mlflow").setLevel(logging.WARNING)

# what the model sees of an order: the scoring input but for when it was delivered and created
MODEL_INPUT = tuple(c for c in SCORING_INPUT if c not in ORDER_TIMES)
PYFUNC_CODE = Path(__file__).with_name("pyfunc_model.py")


class NoChampionError(CasperError):
    pass


def _mlflow(target: RegistryTarget):
    """MLflow pointed at the target's tracking server and registry."""
    if target.tracking_uri.startswith("sqlite:///"):
        Path(target.tracking_uri.removeprefix("sqlite:///")).parent.mkdir(
            parents=True, exist_ok=True
        )
    mlflow.set_tracking_uri(target.tracking_uri)
    mlflow.set_registry_uri(target.registry_uri)
    return mlflow


def _experiment(target: RegistryTarget) -> None:
    """The experiment training runs are logged to (only training needs one)."""
    _mlflow(target)
    if mlflow.get_experiment_by_name(target.experiment) is None:
        mlflow.create_experiment(target.experiment, artifact_location=target.artifact_location)
    mlflow.set_experiment(target.experiment)


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
    _experiment(target)
    with mlflow.start_run() as run:
        mlflow.log_params(params)
        mlflow.log_metrics(metrics)
        with tempfile.TemporaryDirectory() as folder:
            for name, document in documents.items():
                path = Path(folder) / name
                path.write_text(json.dumps(document, indent=2, default=str))
                mlflow.log_artifact(str(path))
            estimator_file = Path(folder) / "estimator.joblib"
            joblib.dump(estimator, estimator_file)
            info = mlflow.pyfunc.log_model(
                name="refund_model",
                python_model=str(PYFUNC_CODE),
                artifacts={"estimator": str(estimator_file)},
                input_example=input_example[list(MODEL_INPUT)].head(5),
                pip_requirements=["scikit-learn", "pandas", "numpy", "joblib"],
            )
    client = MlflowClient()
    try:
        client.get_registered_model(target.model_name)
    except MlflowException:
        client.create_registered_model(target.model_name)
    version = str(
        client.create_model_version(target.model_name, info.model_uri, run.info.run_id).version
    )
    if promote:
        client.set_registered_model_alias(target.model_name, CHAMPION, version)
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


def load_version(target: RegistryTarget, version: str):
    """The pyfunc model of `models:/<name>/<version>`."""
    _mlflow(target)
    return mlflow.pyfunc.load_model(f"models:/{target.model_name}/{version}")


def version_metrics(target: RegistryTarget, version: str) -> dict[str, float]:
    _mlflow(target)
    client = MlflowClient()
    run_id = client.get_model_version(target.model_name, version).run_id
    return dict(client.get_run(run_id).data.metrics)
