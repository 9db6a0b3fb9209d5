"""The refund side of the Spark warehouse: what to train on, what to score, where scores go.

The same questions DuckDBWarehouse answers (same columns, same semantics), asked in Spark SQL of the
tables the Spark pipeline builds (`ai.order_delivery_times`, `lakeflow.all_events`, ... through the
Derby metastore under `<home>/spark/`). Recommendations go to a parquet table,
`recommender.refund_recommendations`, with the DuckDB DDL's columns (parquet has no primary key: an
append skips the (order_id, model_version) pairs already there instead).

The module-level functions take a SparkSession and nothing of the home, so the streaming scorer's
micro-batch function (engines/spark/scoring.py) can call them with the batch's session, here or on
Databricks. `SparkWarehouse(home)` binds them to the pipeline's local session.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import TYPE_CHECKING

import pandas as pd
import polars as pl

from casper.home import CasperHome
from casper.refunds.scoring import RECOMMENDATION_COLUMNS, SCORING_INPUT
from engines.duckdb.warehouse import WarehouseMissingError
from engines.spark.sqlmesh import open_session, spark_conf

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

RECOMMENDATIONS = "recommender.refund_recommendations"
ORDERS = "ai.order_delivery_times"
# DuckDB's TIMESTAMP is a naive timestamp: TIMESTAMP_NTZ (as the pipeline's models are on Spark)
RECOMMENDATIONS_COLUMNS_DDL = """
    order_id STRING NOT NULL,
    ts TIMESTAMP_NTZ NOT NULL,
    agent_response STRING NOT NULL,
    refund_class STRING NOT NULL,
    refund_usd DOUBLE NOT NULL,
    reason STRING NOT NULL,
    model_version STRING NOT NULL,
    location STRING,
    delivered_ts TIMESTAMP_NTZ
"""
RECOMMENDATIONS_DDL = (
    f"CREATE TABLE IF NOT EXISTS {RECOMMENDATIONS} ({RECOMMENDATIONS_COLUMNS_DDL}) USING parquet"
)
# the refund model's view of an order (casper.refunds.scoring.SCORING_INPUT); DuckDB hands pandas a
# DECIMAL as a float, Spark as Python Decimals: cast here
ORDER_FEATURES = """
    d.order_id, d.location, d.delivery_minutes, CAST(d.order_revenue AS DOUBLE) AS order_total,
    d.distance_km, CAST(d.total_items AS DOUBLE) AS total_items,
    CAST(hour(d.created_ts) AS DOUBLE) AS created_hour, d.delivered_ts
"""
# what the review app shows about an order, for the orders in the temporary view {fresh}: the Spark
# SQL twin of engines.duckdb.warehouse.SYNC_CONTEXT (same columns, same JSON documents)
SYNC_CONTEXT = """
WITH wanted AS (SELECT DISTINCT order_id FROM {fresh}),
timeline AS (
  SELECT order_id,
         to_json(transform(
           sort_array(collect_list(named_struct('sequence', sequence, 'ts', ts, 'event_type', event_type))),
           x -> named_struct('sequence', x.sequence, 'event_type', x.event_type,
                             'ts', date_format(x.ts, 'yyyy-MM-dd HH:mm:ss.SSSSSS')))) AS events
  FROM (
    SELECT e.order_id, e.sequence, e.event_type, e.ts,
           row_number() OVER (PARTITION BY e.event_id ORDER BY e.ts, e.source_file) AS copy_no
    FROM lakeflow.all_events AS e JOIN wanted AS w ON w.order_id = e.order_id
    WHERE e.event_type <> 'driver_ping'
  )
  WHERE copy_no = 1
  GROUP BY order_id
),
basket AS (
  SELECT s.order_id,
         to_json(transform(
           sort_array(collect_list(named_struct(
             'brand_id', s.brand_id, 'item_id', s.item_id, 'name', s.item_name, 'brand', b.name,
             'price', CAST(s.price AS DOUBLE), 'qty', s.qty))),
           x -> named_struct('name', x.name, 'brand', x.brand, 'price', x.price, 'qty', x.qty)),
           map('ignoreNullFields', 'false')) AS items
  FROM lakeflow.silver_order_items AS s JOIN wanted AS w ON w.order_id = s.order_id
  LEFT JOIN simulator.brands AS b ON b.brand_id = s.brand_id
  GROUP BY s.order_id
),
route AS (
  SELECT order_id, route
  FROM (
    SELECT e.order_id, get_json_object(e.body, '$.route_points') AS route,
           row_number() OVER (PARTITION BY e.order_id ORDER BY e.ts, e.event_id) AS pick
    FROM lakeflow.all_events AS e JOIN wanted AS w ON w.order_id = e.order_id
    WHERE e.event_type = 'driver_picked_up'
  )
  WHERE pick = 1
)
SELECT d.order_id, d.location, d.location AS location_title,
       CAST(d.order_revenue AS DOUBLE) AS order_total, d.delivery_minutes,
       t.p50, t.p75, t.p99, d.created_ts,
       coalesce(timeline.events, '[]') AS events,
       coalesce(basket.items, '[]') AS items,
       coalesce(route.route, '[]') AS route
FROM ai.order_delivery_times AS d
JOIN wanted AS w ON w.order_id = d.order_id
LEFT JOIN ai.location_timings AS t ON t.location = d.location
LEFT JOIN timeline ON timeline.order_id = d.order_id
LEFT JOIN basket ON basket.order_id = d.order_id
LEFT JOIN route ON route.order_id = d.order_id
ORDER BY d.order_id
"""
# the polars schemas DuckDBWarehouse.sync_frames returns (what casper.appstore.sync takes)
SYNC_RECOMMENDATION_SCHEMA = {
    "order_id": pl.String,
    "ts": pl.Datetime("us"),
    "agent_response": pl.String,
    "refund_class": pl.String,
    "refund_usd": pl.Float64,
    "reason": pl.String,
    "model_version": pl.String,
    "location": pl.String,
}
SYNC_CONTEXT_SCHEMA = {
    "order_id": pl.String,
    "location": pl.String,
    "location_title": pl.String,
    "order_total": pl.Float64,
    "delivery_minutes": pl.Float64,
    "p50": pl.Float64,
    "p75": pl.Float64,
    "p99": pl.Float64,
    "created_ts": pl.Datetime("us"),
    "events": pl.String,
    "items": pl.String,
    "route": pl.String,
}
# pandas dtypes of the feature frames (as DuckDB's .df() gives them)
FEATURE_DTYPES = {
    "order_id": object,
    "location": object,
    "delivery_minutes": "float64",
    "order_total": "float64",
    "distance_km": "float64",
    "total_items": "float64",
    "created_hour": "float64",
    "delivered_ts": "datetime64[us]",
}


class SparkWarehouseMissingError(WarehouseMissingError):
    pass


def session_for(home: CasperHome) -> SparkSession:
    """The local Spark session on `home`'s warehouse and metastore.

    A session's warehouse directory and metastore are fixed when it starts: a session this process
    opened on another home is stopped first (pyspark keeps the JVM, so that is quick).
    """
    from pyspark.sql import SparkSession

    wanted = spark_conf(home)["spark.hadoop.javax.jdo.option.ConnectionURL"]
    # the thread's active session, else the process's default one (a stream's callback thread)
    active = SparkSession.getActiveSession() or getattr(SparkSession, "_instantiatedSession", None)
    if active is not None:
        current = active.sparkContext.getConf().get("spark.hadoop.javax.jdo.option.ConnectionURL")
        if current != wanted:
            active.stop()
    return open_session(home)


def has_table(spark: SparkSession, name: str) -> bool:
    return bool(spark.catalog.tableExists(name))


def ensure_recommendations(spark: SparkSession) -> None:
    """Create the recommendations table if missing (asked first: the Hive metastore logs an error
    for every CREATE ... IF NOT EXISTS of something that exists)."""
    if has_table(spark, RECOMMENDATIONS):
        return
    schema = RECOMMENDATIONS.split(".")[0]
    if not spark.catalog.databaseExists(schema):
        spark.sql(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    spark.sql(RECOMMENDATIONS_DDL)


def to_features(frame: pd.DataFrame) -> pd.DataFrame:
    """A features frame from Spark with the dtypes the DuckDB warehouse gives."""
    if frame.empty and not len(frame.columns):
        frame = pd.DataFrame(columns=list(SCORING_INPUT))
    return frame.astype(FEATURE_DTYPES)


def delivered_orders(spark: SparkSession, window_days: float) -> pd.DataFrame:
    """Delivered orders of each location's last `window_days` of deliveries."""
    if not has_table(spark, ORDERS):
        raise SparkWarehouseMissingError(
            f"the Spark warehouse has no {ORDERS}: run `casper pipeline --engine spark` first"
        )
    frame = spark.sql(
        f"""
        WITH delivered AS (
          SELECT {ORDER_FEATURES}, max(d.delivered_ts) OVER (PARTITION BY d.location) AS newest
          FROM {ORDERS} AS d
          WHERE d.delivered_ts IS NOT NULL AND d.delivery_minutes >= 0
        )
        SELECT * EXCEPT (newest)
        FROM delivered
        WHERE unix_micros(CAST(delivered_ts AS TIMESTAMP))
              >= unix_micros(CAST(newest AS TIMESTAMP)) - CAST(:window_days * 86400000000 AS BIGINT)
        ORDER BY location, delivered_ts, order_id
        """,
        args={"window_days": float(window_days)},
    ).toPandas()
    return to_features(frame)


def unscored_orders(spark: SparkSession, model_version: str) -> pd.DataFrame:
    """Delivered orders that have no recommendation from this model version yet (an anti-join)."""
    ensure_recommendations(spark)
    if not has_table(spark, ORDERS):
        return to_features(pd.DataFrame(columns=list(SCORING_INPUT)))
    frame = spark.sql(
        f"""
        SELECT {ORDER_FEATURES}
        FROM {ORDERS} AS d
        LEFT ANTI JOIN (
          SELECT order_id FROM {RECOMMENDATIONS} WHERE model_version = :version
        ) AS r ON r.order_id = d.order_id
        WHERE d.delivered_ts IS NOT NULL
        ORDER BY d.delivered_ts, d.order_id
        """,
        args={"version": str(model_version)},
    ).toPandas()
    return to_features(frame)


def order_features(spark: SparkSession, order_ids: list[str]) -> pd.DataFrame:
    """The refund model's features of the given (delivered) orders."""
    view = f"casper_wanted_{uuid.uuid4().hex}"
    spark.createDataFrame(
        [(str(i),) for i in order_ids], "order_id string"
    ).createOrReplaceTempView(view)
    try:
        frame = spark.sql(
            f"""
            SELECT {ORDER_FEATURES}
            FROM {ORDERS} AS d JOIN (SELECT DISTINCT order_id FROM {view}) AS w
              ON w.order_id = d.order_id
            WHERE d.delivered_ts IS NOT NULL
            """
        ).toPandas()
    finally:
        spark.catalog.dropTempView(view)
    return to_features(frame)


def append_recommendations(spark: SparkSession, recommendations: pd.DataFrame) -> int:
    """Append; an (order_id, model_version) already there is kept, so a re-run adds nothing."""
    if recommendations.empty:
        return 0
    ensure_recommendations(spark)
    frame = recommendations.loc[:, list(RECOMMENDATION_COLUMNS)].copy()
    frame["ts"] = pd.to_datetime(frame["ts"])
    frame["delivered_ts"] = pd.to_datetime(frame["delivered_ts"])
    frame["refund_usd"] = frame["refund_usd"].astype(float)
    for column in ("order_id", "agent_response", "refund_class", "reason", "model_version"):
        frame[column] = frame[column].astype(str)
    incoming = spark.createDataFrame(frame, schema=_schema(spark))
    held = spark.table(RECOMMENDATIONS).select("order_id", "model_version")
    # computed before the insert (the insert reads the table it writes to)
    new = (
        incoming.dropDuplicates(["order_id", "model_version"])
        .join(held, ["order_id", "model_version"], "left_anti")
        .select(*RECOMMENDATION_COLUMNS)
        .localCheckpoint(eager=True)
    )
    added = new.count()
    if added:
        new.write.insertInto(RECOMMENDATIONS)
    return added


def _schema(spark: SparkSession):
    return spark.table(RECOMMENDATIONS).schema


def recommendations_frame(spark: SparkSession) -> DataFrame:
    ensure_recommendations(spark)
    return spark.table(RECOMMENDATIONS)


def _naive_utc(moment: dt.datetime) -> dt.datetime:
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.UTC).replace(tzinfo=None)
    return moment


def _polars(frame: pd.DataFrame, schema: dict) -> pl.DataFrame:
    if frame.empty:
        return pl.DataFrame(schema=schema)
    return pl.from_pandas(frame).select(pl.col(name).cast(kind) for name, kind in schema.items())


def sync_frames(
    spark: SparkSession, since: dt.datetime | None
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Recommendations scored at or after `since` (the newest per order) and their orders' context,
    in the shapes casper.appstore.sync.sync_frames takes (the columns DuckDBWarehouse gives)."""
    if not has_table(spark, RECOMMENDATIONS):
        return pl.DataFrame(), pl.DataFrame()
    since_filter, args = "", {}
    if since is not None:
        since_filter = "WHERE ts >= CAST(:since AS TIMESTAMP_NTZ)"
        args = {"since": _naive_utc(since).isoformat(sep=" ")}
    fresh = spark.sql(
        f"""
        SELECT * EXCEPT (pick) FROM (
          SELECT *, row_number() OVER (
            PARTITION BY order_id
            ORDER BY ts DESC, try_cast(model_version AS BIGINT) DESC NULLS LAST
          ) AS pick
          FROM {RECOMMENDATIONS}
          {since_filter}
        ) WHERE pick = 1
        """,
        args=args,
    ).localCheckpoint(eager=True)
    view = f"casper_fresh_{uuid.uuid4().hex}"
    fresh.createOrReplaceTempView(view)
    try:
        recommendations = (
            fresh.select(*SYNC_RECOMMENDATION_SCHEMA).orderBy("ts", "order_id").toPandas()
        )
        context = spark.sql(SYNC_CONTEXT.format(fresh=view)).toPandas()
    finally:
        spark.catalog.dropTempView(view)
    return (
        _polars(recommendations, SYNC_RECOMMENDATION_SCHEMA),
        _polars(context, SYNC_CONTEXT_SCHEMA),
    )


def recommendation_count(spark: SparkSession) -> int:
    """Orders with at least one recommendation."""
    if not has_table(spark, RECOMMENDATIONS):
        return 0
    return int(spark.sql(f"SELECT count(DISTINCT order_id) FROM {RECOMMENDATIONS}").collect()[0][0])


class SparkWarehouse:
    """DuckDBWarehouse's refund-side methods on the Spark pipeline's tables (local session)."""

    def __init__(self, home: CasperHome) -> None:
        self.home = home

    def session(self) -> SparkSession:
        return session_for(self.home)

    def delivered_orders(self, window_days: float) -> pd.DataFrame:
        return delivered_orders(self.session(), window_days)

    def unscored_orders(self, model_version: str) -> pd.DataFrame:
        return unscored_orders(self.session(), model_version)

    def order_features(self, order_ids: list[str]) -> pd.DataFrame:
        return order_features(self.session(), order_ids)

    def append_recommendations(self, recommendations: pd.DataFrame) -> int:
        return append_recommendations(self.session(), recommendations)

    def recommendations(self) -> pd.DataFrame:
        """Every recommendation held (all model versions)."""
        return recommendations_frame(self.session()).toPandas()

    def sync_frames(self, since: dt.datetime | None) -> tuple[pl.DataFrame, pl.DataFrame]:
        return sync_frames(self.session(), since)

    def recommendation_count(self, wait_seconds: float | None = None) -> int:
        """Orders with at least one recommendation (`wait_seconds` is DuckDB's; unused)."""
        return recommendation_count(self.session())
