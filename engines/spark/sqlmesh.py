"""The SQLMesh gateway of the spark engine: pyspark local[2], parquet tables, state in DuckDB.

Spark cannot hold SQLMesh's state, so the state lives in its own DuckDB file. Everything Spark writes
stays under `<home>/spark/`: the warehouse directory (parquet tables), the Derby metastore (so tables
survive the process) and that state file (engines/spark_common/conf.py). Plain parquet is all
SQLMesh needs here (append-only, partition-replaced and fully rebuilt models).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from casper.home import CasperHome
from engines.local import release_duckdb_file
from engines.spark_common.conf import METASTORE_KEY, local_conf

if TYPE_CHECKING:
    from sqlmesh.core.config import GatewayConfig


def spark_dir(home: CasperHome) -> Path:
    return home.root / "spark"


def state_file(home: CasperHome) -> Path:
    return spark_dir(home) / "sqlmesh_state.duckdb"


def spark_conf(home: CasperHome) -> dict[str, str]:
    """Static Spark settings of the home's local[2] session (engines/spark_common/conf.py)."""
    return {"spark.master": "local[2]", **local_conf(spark_dir(home))}


def stop_session_of_another_home(home: CasperHome) -> None:
    """A session's warehouse directory and metastore are fixed when it starts, and a new session
    would reuse the running one: stop a session this process opened on another home (pyspark keeps
    the JVM, so that is quick)."""
    from pyspark.sql import SparkSession

    wanted = spark_conf(home)[METASTORE_KEY]
    # the thread's active session, else the process's default one (a stream's callback thread)
    active = SparkSession.getActiveSession() or getattr(SparkSession, "_instantiatedSession", None)
    if active is not None:
        current = active.sparkContext.getConf().get(METASTORE_KEY)
        if current != wanted:
            active.stop()


def gateway_config(home: CasperHome) -> GatewayConfig:
    from sqlmesh.core.config import DuckDBConnectionConfig, GatewayConfig, SparkConnectionConfig

    # SQLMesh's adapter takes the running session if there is one: it must be this home's
    stop_session_of_another_home(home)
    conf = spark_conf(home)
    return GatewayConfig(
        connection=SparkConnectionConfig(config=conf, concurrent_tasks=2, register_comments=False),
        state_connection=DuckDBConnectionConfig(database=str(state_file(home))),
        test_connection=DuckDBConnectionConfig(),
    )


def close_connections(home: CasperHome) -> None:
    """Release the state file (a DuckDB lock); the Spark session stays up for the next tick."""
    release_duckdb_file(state_file(home))


def shutdown(home: CasperHome) -> None:
    """Stop the local Spark session (a new one starts on next use)."""
    from pyspark.sql import SparkSession

    # the active session is per thread; the instantiated one is the process's
    session = SparkSession.getActiveSession() or SparkSession._instantiatedSession
    if session is not None:
        session.stop()


def open_session(home: CasperHome):
    """A Spark session on the same warehouse and metastore as the pipeline (for reading tables)."""
    from pyspark.conf import SparkConf
    from pyspark.sql import SparkSession

    conf = SparkConf()
    for key, value in spark_conf(home).items():
        conf.set(key, value)
    return SparkSession.builder.config(conf=conf).enableHiveSupport().getOrCreate()
