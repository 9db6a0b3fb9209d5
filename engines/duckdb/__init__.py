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

    def score_deliveries(self, model, version: str) -> tuple[int, int]:
        """The in-process incremental loop: unscored deliveries in, recommendations appended."""
        import datetime as dt

        from casper.refunds.scoring import scorable, score_batch

        warehouse = self.warehouse()
        pending = warehouse.unscored_orders(version)
        unscorable = int((~scorable(pending)).sum()) if len(pending) else 0
        scored_at = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        added = warehouse.append_recommendations(score_batch(model, pending, version, scored_at))
        return added, unscorable

    def model_name(self) -> str:
        return "caspers_refund_model"
