"""The SQLMesh gateway of the spark engine: pyspark local[2], parquet tables, state in DuckDB.

Spark cannot hold SQLMesh's state, so the state lives in its own DuckDB file. Everything Spark writes
stays under `<home>/spark/`: the warehouse directory (parquet tables), the Derby metastore (so tables
survive the process) and that state file. Delta needs jars from Maven, which is not possible offline:
tables are plain parquet, which is all SQLMesh needs here (append-only, partition-replaced and fully
rebuilt models).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from casper.home import CasperHome

if TYPE_CHECKING:
    from sqlmesh.core.config import GatewayConfig


def spark_dir(home: CasperHome) -> Path:
    return home.root / "spark"


def state_file(home: CasperHome) -> Path:
    return spark_dir(home) / "sqlmesh_state.duckdb"


LOG4J2 = """\
rootLogger.level = error
rootLogger.appenderRef.stderr.ref = stderr
appender.stderr.type = Console
appender.stderr.name = stderr
appender.stderr.target = SYSTEM_ERR
appender.stderr.layout.type = PatternLayout
appender.stderr.layout.pattern = %d{HH:mm:ss} %p %c{1}: %m%n
# SQLMesh probes for tables that do not exist yet; Spark logs each probe as an error
logger.sqlcontext.name = SQLQueryContextLogger
logger.sqlcontext.level = off
"""


def _quiet_table_probes() -> None:
    """pyspark also logs, from Python and as JSON on stderr, every exception it converts with a SQL
    context: SQLMesh's probes for tables not built yet would print a page each (see LOG4J2)."""
    import logging

    from pyspark.logger import PySparkLogger

    PySparkLogger.getLogger("SQLQueryContextLogger").setLevel(logging.CRITICAL)


def spark_conf(home: CasperHome) -> dict[str, str]:
    """Static Spark settings (they take effect when the JVM / session starts)."""
    _quiet_table_probes()
    root = spark_dir(home)
    root.mkdir(parents=True, exist_ok=True)
    log_config = root / "log4j2.properties"
    if not log_config.exists():
        log_config.write_text(LOG4J2)
    return {
        "spark.master": "local[2]",
        "spark.app.name": "casper-pipeline",
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        # small, local data: one shuffle partition, no adaptive re-planning
        "spark.sql.shuffle.partitions": "1",
        "spark.sql.adaptive.enabled": "false",
        "spark.default.parallelism": "2",
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.sources.default": "parquet",
        # INSERT OVERWRITE replaces only the partitions the query writes (incremental-by-partition
        # models such as ai.order_delivery_times); the static default would empty the whole table
        "spark.sql.sources.partitionOverwriteMode": "dynamic",
        "spark.sql.legacy.createHiveTableByDefault": "false",
        "spark.sql.warehouse.dir": str(root / "warehouse"),
        "spark.hadoop.javax.jdo.option.ConnectionURL": (
            f"jdbc:derby:;databaseName={root / 'metastore_db'};create=true"
        ),
        # a parity engine for laptop-sized data: quick JVM start (C1 JIT only, serial GC)
        "spark.driver.extraJavaOptions": (
            f"-Dderby.system.home={root} -Duser.timezone=UTC"
            f" -Dlog4j2.configurationFile=file:{log_config}"
            " -XX:+UseSerialGC -XX:TieredStopAtLevel=1"
            # C1-only shrinks the default code cache to 48 MB, which a long session (the test suite
            # runs every Spark test in one JVM) exhausts; give it the usual tiered size
            " -XX:ReservedCodeCacheSize=256m"
        ),
        "spark.driver.memory": "2g",
    }


def stop_session_of_another_home(home: CasperHome) -> None:
    """A session's warehouse directory and metastore are fixed when it starts, and a new session
    would reuse the running one: stop a session this process opened on another home (pyspark keeps
    the JVM, so that is quick)."""
    from pyspark.sql import SparkSession

    wanted = spark_conf(home)["spark.hadoop.javax.jdo.option.ConnectionURL"]
    # the thread's active session, else the process's default one (a stream's callback thread)
    active = SparkSession.getActiveSession() or getattr(SparkSession, "_instantiatedSession", None)
    if active is not None:
        current = active.sparkContext.getConf().get("spark.hadoop.javax.jdo.option.ConnectionURL")
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
    from sqlmesh.core.config.connection import BaseDuckDBConnectionConfig

    adapter = BaseDuckDBConnectionConfig._data_file_to_adapter.get(str(state_file(home)))
    if adapter is not None:
        adapter.close()


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
