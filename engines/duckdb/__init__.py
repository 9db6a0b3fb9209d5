"""The default engine: everything embedded on the laptop (DuckDB, local MLflow, local files)."""

from __future__ import annotations

from engines.base import Engine, LocalLander


class DuckDBEngine(Engine):
    name = "duckdb"
    gateway = "duckdb"

    def lander(self) -> LocalLander:
        return LocalLander(self.home.landing)

    def registry_uri(self) -> str:
        return f"sqlite:///{self.home.mlflow / 'mlflow.db'}"
