"""Casper's Kitchens, local-first: the engine-agnostic domain."""

import os

# Offline and quiet by default, before SQLMesh or MLflow is first imported anywhere.
os.environ.setdefault("SQLMESH__DISABLE_ANONYMIZED_ANALYTICS", "1")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

__version__ = "0.1.0"
