"""Local Spark (pyspark local[2], parquet tables): the parity engine for the Databricks path.

It shares the laptop's landing folder, MLflow registry and app store with duckdb (engines/local.py);
the models run on a Spark gateway, the refund side reads the Spark tables and scoring is a
Structured Streaming job (engines/spark_common/scoring.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from casper.appstore.store import AppStore, open_store
from casper.engine import Engine, RegistryTarget
from engines.local import LocalLander, local_registry

if TYPE_CHECKING:
    from sqlmesh.core.config import GatewayConfig

    from casper.manifest import Kind
    from engines.spark.warehouse import SparkWarehouse
    from engines.spark_common.landing import SparkLandingReader


class SparkEngine(Engine):
    name = "spark"

    def lander(self) -> LocalLander:
        return LocalLander(self.home.landing)

    def landing_reader(self) -> SparkLandingReader:
        from engines.spark_common.landing import SparkLandingReader

        return SparkLandingReader(str(self.home.landing))

    def gateway_config(self) -> GatewayConfig:
        from engines.spark.sqlmesh import gateway_config

        return gateway_config(self.home)

    def release_connections(self) -> None:
        from engines.spark.sqlmesh import close_connections

        close_connections(self.home)

    def shutdown(self) -> None:
        from engines.spark.sqlmesh import shutdown

        shutdown(self.home)

    def warehouse_state(self) -> list[tuple[str, Kind]]:
        from engines.spark.sqlmesh import spark_dir

        return [(spark_dir(self.home).relative_to(self.home.root).as_posix(), "folder")]

    def warehouse(self) -> SparkWarehouse:
        from engines.spark.warehouse import SparkWarehouse

        return SparkWarehouse(self.home)

    def score_deliveries(self, model: Any, version: str) -> tuple[int, int]:
        """Refund_Recommender_Stream with trigger availableNow: every delivered order `version` has not
        scored yet, each once; the stream's checkpoint lives under <home>/spark/checkpoints."""
        from engines.spark.scoring import FixedChampion, run_refund_stream

        tally = run_refund_stream(self.home, FixedChampion(model, str(version)))
        return tally.scored, tally.unscorable

    def registry_target(self) -> RegistryTarget:
        return local_registry(self.home)

    def open_app_store(self) -> AppStore:
        return open_store(self.home, self.settings.app_store)

    def app_store_dsn(self) -> str | None:
        return self.settings.app_store
