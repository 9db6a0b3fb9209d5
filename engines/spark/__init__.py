"""Local Spark (pyspark local[2], parquet tables): the parity engine for the Databricks path."""

from __future__ import annotations

from engines.duckdb import DuckDBEngine


class SparkEngine(DuckDBEngine):
    """Same landing folder and registry as duckdb; the models run on a Spark gateway."""

    name = "spark"
    gateway = "spark"
