"""The refund model's MLflow entry point ("models from code"): MLflow copies this file into the
logged model and runs it on load; the fitted estimator travels as the `estimator` artifact."""

from __future__ import annotations

import joblib
import mlflow
import mlflow.pyfunc
import pandas as pd

MODEL_OUTPUT = ("refund_class", "refund_usd", "reason")


class RefundPyfunc(mlflow.pyfunc.PythonModel):
    """pandas in, pandas out (refund_class, refund_usd, reason); any estimator with `recommend`."""

    def load_context(self, context) -> None:
        self.estimator = joblib.load(context.artifacts["estimator"])

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        return self.estimator.recommend(model_input)[list(MODEL_OUTPUT)].reset_index(drop=True)


mlflow.models.set_model(RefundPyfunc())
