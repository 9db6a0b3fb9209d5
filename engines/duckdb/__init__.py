"""The default engine: everything embedded on the laptop (DuckDB, local MLflow, local files)."""

from __future__ import annotations

from engines.base import Engine, LocalLander
from engines.duckdb.warehouse import DuckDBWarehouse


class DuckDBEngine(Engine):
    name = "duckdb"
    gateway = "duckdb"

    def lander(self) -> LocalLander:
        return LocalLander(self.home.landing)

    def tracking_uri(self) -> str:
        return f"sqlite:///{self.home.mlflow / 'mlflow.db'}"

    def registry_uri(self) -> str:
        return self.tracking_uri()

    def artifact_location(self) -> str:
        return (self.home.mlflow / "artifacts").as_uri()

    def warehouse(self) -> DuckDBWarehouse:
        return DuckDBWarehouse(self.home.warehouse)

    def model_name(self) -> str:
        return "caspers_refund_model"
