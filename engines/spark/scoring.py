"""The spark engine's Refund_Recommender_Stream (engines/spark_common/scoring.py) on the home: the
landing folder under the home, the checkpoint under `<home>/spark/checkpoints`."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING

from casper.home import CasperHome
from engines.spark.sqlmesh import spark_dir
from engines.spark.warehouse import session_for
from engines.spark_common import scoring
from engines.spark_common.scoring import Champion, FixedChampion, StreamTally

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

__all__ = ["FixedChampion", "StreamTally", "checkpoint_dir", "run_refund_stream"]


def checkpoint_dir(home: CasperHome) -> Path:
    return spark_dir(home) / "checkpoints" / "refund_stream"


def run_refund_stream(
    home: CasperHome,
    champion: Champion,
    *,
    every_seconds: float | None = None,
    stop: threading.Event | None = None,
    spark: SparkSession | None = None,
    tally: StreamTally | None = None,
) -> StreamTally:
    """scoring.run_refund_stream on `home`'s landing folder and local session."""
    spark = spark or session_for(home)
    home.landing.mkdir(parents=True, exist_ok=True)
    checkpoint = checkpoint_dir(home)
    checkpoint.parent.mkdir(parents=True, exist_ok=True)
    return scoring.run_refund_stream(
        spark, home.landing, checkpoint, champion, every_seconds=every_seconds, stop=stop,
        tally=tally,
    )  # fmt: skip
