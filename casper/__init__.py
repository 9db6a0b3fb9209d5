"""Casper's Kitchens, local-first: the engine-agnostic domain."""

import os

# Offline and quiet by default, before SQLMesh or MLflow is first imported anywhere.
os.environ.setdefault("SQLMESH__DISABLE_ANONYMIZED_ANALYTICS", "1")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
# Before numpy is first imported: OpenBLAS (the BLAS of numpy's and scipy's wheels) starts a thread
# per core at import, and they spin a while waiting for work casper never gives them (the refund
# model's gradient boosting threads with OpenMP, not BLAS): ~0.13 s of CPU in every process on
# 2 cores, ~0.05 s of its wall time, and `casper generate` runs two such processes (measured).
# The processes a command starts inherit it.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

__version__ = "0.1.0"
