"""Refund_Recommender_Stream on local Spark scores like the DuckDB loop, once per order and version.

One home holds both engines' warehouses (warehouse.duckdb and spark/), fed by the same landing folder,
and one MLflow registry: one model is trained (on duckdb) and its champion scores on both paths.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import shutil
import threading
import time
from dataclasses import dataclass

import duckdb
import pandas as pd
import pytest

from casper.home import CasperHome
from casper.pipeline import run_pipeline
from casper.refunds import registry
from casper.refunds.service import ChampionScorer, train
from tests import pipeline_fixtures as pf
from tests.engine_helpers import engine_for
from tests.test_reference_columns import order_created_ts

pytestmark = [pytest.mark.slow, pytest.mark.spark]

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

DECISION = ["order_id", "refund_class", "refund_usd", "reason", "model_version", "order_ts"]
# the bulk landing's orders are created over 2025-01-01 and 2025-01-02
ROUND_TWO = dt.datetime(2025, 1, 3, 0, 10)
# on its way in the first landing; its delivered event lands with the second
IN_FLIGHT = pf.OrderSpec(
    "flight-1", dt.datetime(2025, 1, 2, 23, 30), items=((1, 2),), delivered_min=None
)


@dataclass
class World:
    home: CasperHome
    duck: object
    spark: object
    version: str
    first_duck: pd.DataFrame
    first_spark: pd.DataFrame
    spark_report: object


def _duck_recommendations(home: CasperHome) -> pd.DataFrame:
    with duckdb.connect(str(home.warehouse), read_only=True) as connection:
        return connection.execute("SELECT * FROM recommender.refund_recommendations").df()


def _decisions(frame: pd.DataFrame) -> pd.DataFrame:
    chosen = frame[DECISION].assign(order_ts=pd.to_datetime(frame.order_ts).astype("M8[us]"))
    return chosen.sort_values(DECISION).reset_index(drop=True)


def _new_orders() -> list[pf.OrderSpec]:
    """Twenty deliveries after the first landing, from early to very late (some refunds)."""
    orders = []
    for n in range(20):
        location = "chicago" if n % 2 else "sanfrancisco"
        lat, lon = pf.KITCHENS[location][1:]
        orders.append(
            pf.OrderSpec(
                f"new-{n:02d}",
                ROUND_TWO + dt.timedelta(minutes=9 * n),
                location=location,
                items=((n % 7, 1 + n % 3), ((n + 3) % 7, 1)),
                customer=(lat + 0.01 * (n % 4 - 1.5), lon - 0.01 * (n % 3 - 1)),
                delivered_min=28.0 + 3.1 * n,
            )
        )
    return orders


def _waiting_order(order_id: str, created: dt.datetime) -> list[dict]:
    """An order still on its way (no delivered event): nothing to score."""
    return pf.order_events(pf.OrderSpec(order_id, created, delivered_min=None))


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    pytest.importorskip("pyspark")
    if shutil.which("java") is None:
        pytest.skip("Spark needs Java")
    from engines.spark.sqlmesh import shutdown

    home = CasperHome(tmp_path_factory.mktemp("refund-stream") / "home").ensure()
    pf.bulk_landing(home.landing, orders=240, files=3, seed=11, days=2, route_points=(5, 30))
    pf.land_ndjson(home.landing, "flight.ndjson", pf.order_events(IN_FLIGHT))
    run_pipeline(engine_for(home, "duckdb"))
    run_pipeline(engine_for(home, "spark"))

    duck, spark = engine_for(home, "duckdb"), engine_for(home, "spark")
    trained = train(duck, window_days=1.0)
    assert ChampionScorer(duck).score_pending().scored == 240
    spark_report = ChampionScorer(spark).score_pending()
    try:
        yield World(
            home=home,
            duck=duck,
            spark=spark,
            version=trained.version.version,
            first_duck=_duck_recommendations(home),
            first_spark=spark.warehouse().recommendations(),
            spark_report=spark_report,
        )
    finally:
        shutdown(home)


def test_the_stream_and_the_duckdb_loop_recommend_the_same(world):
    assert (world.spark_report.version, world.spark_report.scored) == (world.version, 240)
    assert world.spark_report.unscorable == 0
    duck, spark = _decisions(world.first_duck), _decisions(world.first_spark)
    assert len(spark) == 240 and set(spark.model_version) == {world.version}
    assert spark.order_id.is_unique
    pd.testing.assert_frame_equal(spark, duck)
    assert {"none", "partial", "full"} <= set(spark.refund_class)  # not a vacuous comparison
    created = order_created_ts(world.home.landing)  # read from the landed files themselves
    assert all(
        ts == created[order] for order, ts in zip(spark.order_id, spark.order_ts, strict=True)
    )
    assert list(world.first_spark.columns) == list(world.first_duck.columns)

    from engines.spark.scoring import checkpoint_dir

    checkpoint = world.home.root / "spark" / "checkpoints" / "refund_stream"
    assert checkpoint_dir(world.home) == checkpoint
    assert (checkpoint / "offsets").is_dir() and (checkpoint / "commits").is_dir()

    # the same recommendations appended again add nothing
    assert world.spark.warehouse().append_recommendations(world.first_spark.head(7)) == 0
    assert world.spark.warehouse().counts()["recommendations"] == 240


def test_the_spark_warehouse_answers_like_the_duckdb_one(world):
    from polars.testing import assert_frame_equal

    duck_wh, spark_wh = world.duck.warehouse(), world.spark.warehouse()
    pd.testing.assert_frame_equal(
        spark_wh.delivered_orders(1.0), duck_wh.delivered_orders(1.0), check_exact=False, rtol=1e-9
    )
    wanted = sorted(world.first_duck.order_id)[:25] + ["no-such-order", IN_FLIGHT.order_id]
    by_id = lambda frame: frame.sort_values("order_id").reset_index(drop=True)  # noqa: E731
    pd.testing.assert_frame_equal(
        by_id(spark_wh.order_features(wanted)),
        by_id(duck_wh.order_features(wanted)),
        check_exact=False,
        rtol=1e-9,
    )

    # what a sync reads: the fresh recommendations, oldest first, and the context of the orders
    # it asks for (a batch of them), exactly those
    duck_recs, spark_recs = (
        duck_wh.fresh_recommendations(None),
        spark_wh.fresh_recommendations(None),
    )
    for recs in (duck_recs, spark_recs):
        keys = recs.select("ts", "order_id")
        assert keys.equals(keys.sort("ts", "order_id"))
    assert spark_recs.schema == duck_recs.schema
    assert_frame_equal(
        spark_recs.drop("ts").sort("order_id"), duck_recs.drop("ts").sort("order_id")
    )
    batch = duck_recs["order_id"].head(100)
    for wh in (duck_wh, spark_wh):
        assert sorted(wh.order_context(batch)["order_id"]) == sorted(batch)
    every = duck_recs["order_id"]
    duck_context, spark_context = duck_wh.order_context(every), spark_wh.order_context(every)
    assert spark_context.schema == duck_context.schema
    assert_frame_equal(
        spark_context.sort("order_id"),
        duck_context.sort("order_id"),
        check_exact=False,
        rel_tol=1e-9,
    )
    assert len(spark_context) == 240
    # nothing scored since: empty frames of the same shape (what `casper sync` hands the store)
    none_recs = spark_wh.fresh_recommendations(spark_recs["ts"].max() + dt.timedelta(seconds=1))
    assert none_recs.is_empty() and none_recs.schema == duck_recs.schema
    assert duck_wh.fresh_recommendations(duck_recs["ts"].max() + dt.timedelta(seconds=1)).is_empty()


def test_new_deliveries_are_scored_once_on_a_later_batch(world):
    from engines.spark.scoring import FixedChampion, run_refund_stream

    home = world.home
    model, version = registry.load_champion(world.spark.registry_target())
    assert version == world.version
    champion = FixedChampion(model, version)
    new = _new_orders()
    flight_delivered = [
        e
        for e in pf.order_events(dataclasses.replace(IN_FLIGHT, delivered_min=75.0))
        if e["event_type"] == "delivered"
    ]
    pf.land_ndjson(home.landing, "round-2.ndjson", [*pf.events_of(new), *flight_delivered])

    # the stream sees the file before the Spark pipeline has refined it: nothing to score yet
    early = run_refund_stream(home, champion)
    assert (early.batches, early.files, early.scored, early.caught_up) == (1, 1, 0, False)

    run_pipeline(engine_for(home, "spark"))
    # the next landed file's batch scores every delivery still unscored
    pf.land_ndjson(home.landing, "round-3.ndjson", _waiting_order("wait-1", ROUND_TWO))
    later = run_refund_stream(home, champion)
    expected = {o.order_id for o in new} | {IN_FLIGHT.order_id}
    assert (later.batches, later.files, later.scored) == (1, 1, len(expected))

    # a restart finds nothing new in the checkpoint and nothing left to score
    again = run_refund_stream(home, champion)
    assert (again.batches, again.files, again.scored, again.caught_up) == (0, 0, 0, True)

    spark_all = world.spark.warehouse().recommendations()
    assert not spark_all.duplicated(["order_id", "model_version"]).any()
    spark_new = spark_all[~spark_all.order_id.isin(world.first_spark.order_id)]
    assert set(spark_new.order_id) == expected

    run_pipeline(engine_for(home, "duckdb"))
    assert ChampionScorer(world.duck).score_pending().scored == len(expected)
    duck_all = _duck_recommendations(home)
    duck_new = duck_all[~duck_all.order_id.isin(world.first_duck.order_id)]
    pd.testing.assert_frame_equal(_decisions(spark_new), _decisions(duck_new))
    assert set(spark_new.refund_class) >= {"none", "full"}


def test_a_processing_time_stream_runs_until_stopped(world):
    from engines.spark.scoring import FixedChampion, StreamTally, run_refund_stream

    home = world.home
    model, version = registry.load_champion(world.spark.registry_target())
    before = len(world.spark.warehouse().recommendations())
    tally, stop, failures = StreamTally(), threading.Event(), []

    def job() -> None:
        try:
            run_refund_stream(
                home, FixedChampion(model, version), every_seconds=0.5, stop=stop, tally=tally
            )
        except Exception as error:  # pragma: no cover - reported below
            failures.append(error)

    runner = threading.Thread(target=job, daemon=True)
    runner.start()
    try:
        # a JSON array file this time (the stream reads every landing file the pipeline reads)
        pf.land_json_array(home.landing, "round-4.json", _waiting_order("wait-2", ROUND_TWO))
        deadline = time.monotonic() + 60
        while tally.files < 1 and time.monotonic() < deadline and runner.is_alive():
            time.sleep(0.2)
    finally:
        stop.set()
        runner.join(60)
    assert not runner.is_alive() and not failures
    assert tally.files == 1 and tally.batches >= 1 and tally.scored == 0
    assert len(world.spark.warehouse().recommendations()) == before


def test_a_recommendations_table_from_before_order_ts_is_given_it(world):
    """Runs last: it puts the table back as it was made before order_ts. The sync adds the column
    and takes the old rows' order_ts from their orders, as the duckdb engine does; appends write it."""
    from pyspark.sql.types import StructType

    from casper.refunds.queries import RECOMMENDATIONS

    warehouse = world.spark.warehouse()
    spark = warehouse.session()
    held = warehouse.recommendations()
    old_schema = [f for f in spark.table(RECOMMENDATIONS).schema.fields if f.name != "order_ts"]
    frozen = held[[f.name for f in old_schema]]
    spark.sql(f"DROP TABLE {RECOMMENDATIONS}")
    spark.createDataFrame(frozen, StructType(old_schema)).write.format("parquet").saveAsTable(
        RECOMMENDATIONS
    )
    assert "order_ts" not in spark.table(RECOMMENDATIONS).columns

    spark_recs = warehouse.fresh_recommendations(None)
    duck_recs = world.duck.warehouse().fresh_recommendations(None)
    by_order = lambda frame: dict(zip(frame["order_id"], frame["order_ts"], strict=True))  # noqa: E731
    assert by_order(spark_recs) == by_order(duck_recs) and len(spark_recs) == len(duck_recs)
    table = spark.table(RECOMMENDATIONS)
    assert table.columns[-1] == "order_ts"
    assert table.where("order_ts IS NULL").count() == len(held)  # the old rows keep NULL there

    rescored = held.head(3).assign(model_version="99")
    assert warehouse.append_recommendations(rescored) == 3
    written = spark.table(RECOMMENDATIONS).where("model_version = '99'").toPandas()
    created = order_created_ts(world.home.landing)
    assert sorted(zip(written.order_id, written.order_ts, strict=True)) == sorted(
        (order, created[order]) for order in rescored.order_id
    )
