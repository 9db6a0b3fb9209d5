"""The settings of a local Spark session whose tables live in one folder.

Used by the spark engine (the folder is `<home>/spark`) and by the Databricks jobs' local stand-in
(tests run the deployed jobs on this machine). Everything the session writes stays in the folder:
the warehouse directory (parquet tables) and the Derby metastore, so tables survive the process.
Delta needs jars from Maven, which is not possible offline: tables are plain parquet.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

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

#: the key that tells which folder a running session was started on
METASTORE_KEY = "spark.hadoop.javax.jdo.option.ConnectionURL"


def quiet_table_probes() -> None:
    """pyspark also logs, from Python and as JSON on stderr, every exception it converts with a SQL
    context: SQLMesh's probes for tables not built yet would print a page each (see LOG4J2)."""
    from pyspark.logger import PySparkLogger

    PySparkLogger.getLogger("SQLQueryContextLogger").setLevel(logging.CRITICAL)


def local_conf(root: Path, *, app_name: str = "casper-pipeline") -> dict[str, str]:
    """Static Spark settings of a local[2] session on `root` (they take effect when the session
    starts). Without `spark.master`: the caller picks classic (`spark.master`) or Spark Connect
    (`spark.remote`)."""
    quiet_table_probes()
    root.mkdir(parents=True, exist_ok=True)
    log_config = root / "log4j2.properties"
    if not log_config.exists():
        log_config.write_text(LOG4J2)
    return {
        "spark.app.name": app_name,
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
        "spark.sql.catalogImplementation": "hive",
        "spark.sql.warehouse.dir": str(root / "warehouse"),
        METASTORE_KEY: f"jdbc:derby:;databaseName={root / 'metastore_db'};create=true",
        # a stream's foreachBatch runs in a Python worker under Spark Connect: this interpreter
        "spark.pyspark.python": sys.executable,
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
