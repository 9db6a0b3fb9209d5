"""Refund_Recommender_Stream: Structured Streaming scores delivered orders into recommendations.

The source is the landing folder (the raw NDJSON / JSON files the generator lands), read as a file
stream with one row per file. It is only the trigger: each micro-batch means "new events have
landed", and `score_micro_batch` then scores every delivered order in `ai.order_delivery_times` that
the model version has not scored yet (an anti-join against `recommender.refund_recommendations`),
converting them to pandas and calling casper.refunds.scoring.score_batch. Because each batch scores
everything still pending, a delivery whose order had not been refined yet when its file arrived is
scored by a later batch, and a restart (a batch re-run after a crash, or the same files seen again)
never scores an order twice for one version. The checkpoint (`<home>/spark/checkpoints/refund_stream`)
records which landing files have been seen, so a restart resumes after them (`<home>/spark/checkpoints/`
locally, a folder of the artifacts volume in a Databricks job).

Why the landing folder and not the files of `lakeflow.all_events`: on Spark, `lakeflow.all_events` is a
SQLMesh view, and views cannot be streamed; the parquet table behind it has a name that carries the
model's fingerprint (`sqlmesh__lakeflow.lakeflow__landing_records__<n>`), so a model change would
move the stream onto a new table and orphan its checkpoint. The landing folder is the stable contract
(written with a hidden temporary name, then renamed: a file source never sees half a file) and is
the same folder on both local engines (on Databricks: the volume).

`score_micro_batch` is a plain module-level function of (batch, batch id) plus keyword arguments, and
it touches only the batch's SparkSession, so the same job can run on Databricks. Under Spark Connect
(serverless compute) foreachBatch runs the function in a Python worker of the server, not in this
process: the champion travels pickled (`RegistryChampion`: a registry address and a version, loaded
in the worker) and what the run did is measured from the recommendations table afterwards.
"""

from __future__ import annotations

import datetime as dt
import functools
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from casper.engine import RegistryTarget
from casper.landing import LANDING_SUFFIXES
from casper.refunds.scoring import scorable, score_batch
from engines.spark_common import warehouse

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

QUERY_NAME = "refund_recommender_stream"
#: the landing files the stream reads: the ones the pipeline reads (hidden temporaries never match)
LANDING_GLOB = "*.{" + ",".join(suffix.lstrip(".") for suffix in LANDING_SUFFIXES) + "}"

#: returns the model to score with and its version; called once per micro-batch
Champion = Callable[[], tuple[Any, str]]


@dataclass(frozen=True)
class FixedChampion:
    """A Champion that always answers the same loaded model (picklable if the model is)."""

    model: Any
    version: str

    def __call__(self) -> tuple[Any, str]:
        return self.model, self.version


#: models a worker process loaded, by (registry, name, version): one load per version per worker
_loaded: dict[tuple[str, str, str], Any] = {}


@dataclass(frozen=True)
class RegistryChampion:
    """A Champion that loads model `version` from the registry the first time a process calls it:
    what a Spark Connect worker is sent instead of the model itself."""

    target: RegistryTarget
    version: str

    def __call__(self) -> tuple[Any, str]:
        from casper.refunds.registry import load_version

        key = (self.target.registry_uri, self.target.model_name, self.version)
        if key not in _loaded:
            _loaded[key] = load_version(self.target, self.version)
        return _loaded[key], self.version


def is_connect(spark: SparkSession) -> bool:
    """Whether `spark` is a Spark Connect session (serverless compute), not a classic one."""
    return type(spark).__module__.startswith("pyspark.sql.connect")


@dataclass
class StreamTally:
    """What a run of the stream did."""

    batches: int = 0
    #: landing files the stream's batches brought (files already seen by the checkpoint are not)
    files: int = 0
    #: recommendations appended
    scored: int = 0
    #: delivered orders left unscorable after the last scoring pass (they stay pending)
    unscorable: int = 0
    #: a scoring pass ran after the stream (no batch ran: nothing new had landed)
    caught_up: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)


def score_pending(
    spark: SparkSession, model, version: str, *, scored_at: dt.datetime | None = None
) -> tuple[int, int]:
    """Score every delivered order `version` has not scored yet: (appended, left unscorable)."""
    pending = warehouse.unscored_orders(spark, version)
    unscorable = int((~scorable(pending)).sum()) if len(pending) else 0
    if pending.empty:
        return 0, unscorable
    scored_at = scored_at or dt.datetime.now(dt.UTC).replace(tzinfo=None)
    added = warehouse.append_recommendations(spark, score_batch(model, pending, version, scored_at))
    return added, unscorable


def score_micro_batch(
    batch: DataFrame, batch_id: int, *, champion: Champion, tally: StreamTally | None = None
) -> None:
    """foreachBatch: the batch (one row per new landing file) triggers one scoring pass."""
    files = batch.count()
    model, version = champion()
    if tally is None:
        score_pending(batch.sparkSession, model, version)
        return
    with tally.lock:
        added, unscorable = score_pending(batch.sparkSession, model, version)
        tally.batches += 1
        tally.files += files
        tally.scored += added
        tally.unscorable = unscorable


def landing_stream(spark: SparkSession, landing: Path | str) -> DataFrame:
    """The landing folder as a file stream, one row (its name) per landed file."""
    from pyspark.sql import functions as F

    return (
        spark.readStream.format("text")
        .option("wholetext", "true")
        .option("pathGlobFilter", LANDING_GLOB)
        .load(str(landing))
        .select(F.col("_metadata.file_name").alias("source_file"))
    )


def start_stream(
    spark: SparkSession,
    landing: Path | str,
    checkpoint: Path | str,
    champion: Champion,
    tally: StreamTally | None,
    *,
    every_seconds: float | None = None,
):
    """Start the query: availableNow (everything landed so far, then stop) or every `every_seconds`.
    Batches add to `tally` (None: they run in another process, a Spark Connect server's worker)."""
    writer = (
        landing_stream(spark, landing)
        .writeStream.queryName(QUERY_NAME)
        .option("checkpointLocation", str(checkpoint))
        .foreachBatch(functools.partial(score_micro_batch, champion=champion, tally=tally))
    )
    if every_seconds is None:
        writer = writer.trigger(availableNow=True)
    else:
        writer = writer.trigger(processingTime=f"{float(every_seconds)} seconds")
    return writer.start()


def run_refund_stream(
    spark: SparkSession,
    landing: Path | str,
    checkpoint: Path | str,
    champion: Champion,
    *,
    every_seconds: float | None = None,
    stop: threading.Event | None = None,
    tally: StreamTally | None = None,
) -> StreamTally:
    """Run Refund_Recommender_Stream over the `landing` folder with its checkpoint at `checkpoint`.

    Without `every_seconds`: trigger availableNow, i.e. process every landing file not seen yet and
    return; if no batch ran (nothing new had landed, e.g. a new champion), one scoring pass runs
    anyway, so every delivered order is scored by `champion`'s version when this returns. With
    `every_seconds`: a processing-time trigger, running until `stop` is set; Spark runs a batch only
    when a file has landed, so a delivery the pipeline refines after its file's batch waits for the
    next landed file (or the next availableNow run). The returned tally
    (`tally` if given, which another thread may watch) says what the run did.
    """
    if is_connect(spark):
        if every_seconds is not None:
            raise ValueError("under Spark Connect the scorer runs with trigger availableNow only")
        return _run_on_connect(spark, landing, checkpoint, champion)
    tally = tally if tally is not None else StreamTally()
    query = start_stream(spark, landing, checkpoint, champion, tally, every_seconds=every_seconds)
    if every_seconds is None:
        query.awaitTermination()
        if tally.batches == 0:
            model, version = champion()
            with tally.lock:
                tally.scored, tally.unscorable = score_pending(spark, model, version)
                tally.caught_up = True
        return tally
    stop = stop or threading.Event()
    try:
        while not stop.wait(min(1.0, float(every_seconds))):
            if not query.isActive:
                break
    finally:
        if query.isActive:
            query.stop()
    error = query.exception()
    if error is not None:
        raise error
    return tally


def _run_on_connect(
    spark: SparkSession, landing: Path | str, checkpoint: Path | str, champion: Champion
) -> StreamTally:
    """availableNow under Spark Connect: the batches run in the server's Python worker, so the
    tally is read from the query's progress and the table, and the catch-up pass runs here."""
    model, version = champion()
    before = warehouse.recommendation_count(spark, version)
    query = start_stream(spark, landing, checkpoint, champion, None)
    query.awaitTermination()
    progress = [p for p in query.recentProgress if p.numInputRows]
    # a delivery refined after its file's batch, or a new champion with nothing new landed
    _, unscorable = score_pending(spark, model, version)
    return StreamTally(
        batches=len(progress),
        files=sum(int(p.numInputRows) for p in progress),
        scored=warehouse.recommendation_count(spark, version) - before,
        unscorable=unscorable,
        caught_up=not progress,
    )
