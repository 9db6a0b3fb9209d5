"""Local Spark (pyspark local[2], parquet tables): the parity engine for the Databricks path."""

from __future__ import annotations

from engines.duckdb import DuckDBEngine


class SparkEngine(DuckDBEngine):
    """Same landing folder and MLflow registry as duckdb; the models run on a Spark gateway, the refund
    side reads the Spark tables and scoring is a Structured Streaming job (engines/spark/scoring.py)."""

    name = "spark"
    gateway = "spark"

    def warehouse(self):
        from engines.spark.warehouse import SparkWarehouse

        return SparkWarehouse(self.home)

    def score_deliveries(self, model, version: str) -> tuple[int, int]:
        """Refund_Recommender_Stream with trigger availableNow: every delivered order `version` has not
        scored yet, each once; the stream's checkpoint lives under <home>/spark/checkpoints."""
        from engines.spark.scoring import FixedChampion, run_refund_stream

        tally = run_refund_stream(self.home, FixedChampion(model, str(version)))
        return tally.scored, tally.unscorable
