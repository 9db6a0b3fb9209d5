"""The refund side of the Spark warehouse: what to train on, what to score, where scores go.

The same questions DuckDBWarehouse answers, in the same SQL (casper.refunds.queries, rendered for
Spark), of the tables the Spark pipeline builds (`ai.order_delivery_times`, `lakeflow.all_events`, ... through the
Derby metastore under `<home>/spark/`). Recommendations go to a table of the session's default
format (parquet here), `recommender.refund_recommendations`; it has no primary key, so an append
skips the (order_id, model_version) pairs already there instead.

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

from casper.engine import WarehouseMissingError
from casper.home import CasperHome
from casper.refunds import queries
from casper.refunds.queries import ORDERS, RECOMMENDATIONS
from casper.refunds.scoring import RECOMMENDATION_COLUMNS, SCORING_INPUT
from engines.spark.sqlmesh import open_session, stop_session_of_another_home

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

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


def session_for(home: CasperHome) -> SparkSession:
    """The local Spark session on `home`'s warehouse and metastore (never another home's)."""
    stop_session_of_another_home(home)
    return open_session(home)


def has_table(spark: SparkSession, name: str) -> bool:
    return bool(spark.catalog.tableExists(name))


def ensure_recommendations(spark: SparkSession) -> None:
    """Create the recommendations table if missing (asked first: the Hive metastore logs an error
    for every CREATE ... IF NOT EXISTS of something that exists)."""
    if has_table(spark, RECOMMENDATIONS):
        return
    if not spark.catalog.databaseExists(RECOMMENDATIONS.split(".")[0]):
        spark.sql(_sql(queries.RECOMMENDATIONS_SCHEMA_DDL))
    spark.sql(_sql(queries.RECOMMENDATIONS_DDL) + f" USING {table_format(spark)}")


def to_features(frame: pd.DataFrame) -> pd.DataFrame:
    """A features frame from Spark with the dtypes the DuckDB warehouse gives."""
    if frame.empty and not len(frame.columns):
        frame = pd.DataFrame(columns=list(SCORING_INPUT))
    return frame.astype(FEATURE_DTYPES)


def delivered_orders(spark: SparkSession, window_days: float) -> pd.DataFrame:
    """Delivered orders of each location's last `window_days` of deliveries."""
    if not has_table(spark, ORDERS):
        raise WarehouseMissingError(
            f"the Spark warehouse has no {ORDERS}: run `casper pipeline --engine spark` first"
        )
    sql = _sql(queries.DELIVERED_ORDERS, window_days=float(window_days))
    return to_features(spark.sql(sql).toPandas())


def unscored_orders(spark: SparkSession, model_version: str) -> pd.DataFrame:
    """Delivered orders that have no recommendation from this model version yet."""
    ensure_recommendations(spark)
    if not has_table(spark, ORDERS):
        return to_features(pd.DataFrame(columns=list(SCORING_INPUT)))
    sql = _sql(queries.UNSCORED_ORDERS, version=str(model_version))
    return to_features(spark.sql(sql).toPandas())


def order_features(spark: SparkSession, order_ids: list[str]) -> pd.DataFrame:
    """The refund model's features of the given (delivered) orders."""
    view = f"casper_wanted_{uuid.uuid4().hex}"
    spark.createDataFrame(
        [(str(i),) for i in order_ids], "order_id string"
    ).createOrReplaceTempView(view)
    try:
        frame = spark.sql(_sql(queries.ORDER_FEATURES, tables={"wanted": view})).toPandas()
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
    since_text = queries.naive_utc_text(since)
    fresh = spark.sql(_sql(queries.FRESH_RECOMMENDATIONS, since=since_text))
    # computed once: the context query and the frame below both read it
    fresh = fresh.localCheckpoint(eager=True)
    view = f"casper_fresh_{uuid.uuid4().hex}"
    fresh.createOrReplaceTempView(view)
    try:
        recommendations = (
            fresh.select(*queries.SYNC_RECOMMENDATION_COLUMNS).orderBy("ts", "order_id").toPandas()
        )
        context = spark.sql(_sql(queries.SYNC_CONTEXT, tables={"fresh": view})).toPandas()
    finally:
        spark.catalog.dropTempView(view)
    return (
        _polars(recommendations, SYNC_RECOMMENDATION_SCHEMA),
        _polars(context, SYNC_CONTEXT_SCHEMA),
    )


def counts(spark: SparkSession) -> dict[str, int | None]:
    """casper status' warehouse figures (0 for a table not built yet)."""
    from pyspark.errors import AnalysisException

    figures: dict[str, int | None] = {}
    for key, sql in queries.COUNTS.items():
        try:
            figures[key] = int(spark.sql(_sql(sql)).collect()[0][0])
        except AnalysisException:
            figures[key] = 0
    return figures


def table_format(spark: SparkSession) -> str:
    """The format new tables get: the session's default (parquet here, Delta on Databricks)."""
    return spark.conf.get("spark.sql.sources.default", "parquet")


def _sql(sql: str, **params: object) -> str:
    return queries.render(sql, "spark", **params)


class SparkWarehouse:
    """The refund warehouse (casper.engine.RefundWarehouse) on the Spark pipeline's tables."""

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

    def counts(self) -> dict[str, int | None]:
        return counts(self.session())
