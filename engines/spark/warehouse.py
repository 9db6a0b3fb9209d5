"""The refund warehouse of the spark engine: engines/spark_common/warehouse.py on the home's local
session (the pipeline's warehouse folder and metastore under `<home>/spark/`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from casper.home import CasperHome
from engines.spark.sqlmesh import open_session, stop_session_of_another_home
from engines.spark_common.warehouse import SessionWarehouse

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


def session_for(home: CasperHome) -> SparkSession:
    """The local Spark session on `home`'s warehouse and metastore (never another home's)."""
    stop_session_of_another_home(home)
    return open_session(home)


class SparkWarehouse(SessionWarehouse):
    def __init__(self, home: CasperHome) -> None:
        super().__init__(lambda: session_for(home))
        self.home = home
