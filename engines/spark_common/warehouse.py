"""The refund side of the Spark warehouse: what to train on, what to score, where scores go.

The same questions DuckDBWarehouse answers, in the same SQL (casper.refunds.queries, rendered for
Spark), of the tables the Spark pipeline builds (`ai.order_delivery_times`, `lakeflow.all_events`,
... in the session's current catalog: the local metastore, or the deployment's Unity Catalog
catalog). Recommendations go to a table of the session's default format (parquet locally, Delta on
Databricks, with change data feed on for the Lakebase synced table),
`recommender.refund_recommendations`; it has no primary key, so an append skips the
(order_id, model_version) pairs already there instead.

The module-level functions take a SparkSession and nothing else, so the streaming scorer's
micro-batch function (engines/spark_common/scoring.py) can call them with the batch's session.
`SessionWarehouse` binds them to a session factory: the home's local session (engines.spark) or a
Databricks job's (engines.databricks.runtime). Spark Connect API only (see the package docstring).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING

import pandas as pd
import polars as pl

from casper.engine import WarehouseMissingError
from casper.refunds import queries
from casper.refunds.queries import ORDERS, RECOMMENDATIONS
from casper.refunds.scoring import RECOMMENDATION_COLUMNS, SCORING_INPUT

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

# the polars schemas of DuckDBWarehouse's fresh_recommendations and order_context (what casper.appstore.sync takes)
SYNC_RECOMMENDATION_SCHEMA = {
    "order_id": pl.String,
    "ts": pl.Datetime("us"),
    "agent_response": pl.String,
    "refund_class": pl.String,
    "refund_usd": pl.Float64,
    "reason": pl.String,
    "model_version": pl.String,
    "location": pl.String,
    "order_ts": pl.Datetime("us"),
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
    "order_ts": "datetime64[us]",
}
#: the columns of the features frames but the one to score (unscored_orders: SCORING_INPUT)
FEATURES = tuple(c for c in SCORING_INPUT if c != "order_ts")


def has_table(spark: SparkSession, name: str) -> bool:
    return bool(spark.catalog.tableExists(name))


def ensure_recommendations(spark: SparkSession) -> None:
    """Create the recommendations table if missing (asked first: the Hive metastore logs an error
    for every CREATE ... IF NOT EXISTS of something that exists), or give one made before a
    column was added that column (NULL in the rows it holds)."""
    if has_table(spark, RECOMMENDATIONS):
        # another session may have appended since this one listed the table's files (the
        # stream's batches run in their own session): a stale listing would score orders twice
        spark.catalog.refreshTable(RECOMMENDATIONS)
        held = set(spark.table(RECOMMENDATIONS).columns)
        missing = [c for c in queries.RECOMMENDATIONS_ADDED_COLUMNS if c not in held]
        if missing:
            added = ", ".join(f"{c} {queries.RECOMMENDATIONS_ADDED_COLUMNS[c]}" for c in missing)
            spark.sql(f"ALTER TABLE {RECOMMENDATIONS} ADD COLUMNS ({added})")
        return
    if not spark.catalog.databaseExists(RECOMMENDATIONS.split(".")[0]):
        spark.sql(_sql(queries.RECOMMENDATIONS_SCHEMA_DDL))
    table_format = default_format(spark)
    ddl = _sql(queries.RECOMMENDATIONS_DDL) + f" USING {table_format}"
    if table_format.lower() == "delta":
        # the Lakebase synced table follows the table's changes
        ddl += " TBLPROPERTIES (delta.enableChangeDataFeed = true)"
    spark.sql(ddl)


def to_features(frame: pd.DataFrame, columns: tuple[str, ...] = FEATURES) -> pd.DataFrame:
    """A features frame from Spark with the dtypes the DuckDB warehouse gives."""
    if frame.empty and not len(frame.columns):
        frame = pd.DataFrame(columns=list(columns))
    return frame.astype({c: kind for c, kind in FEATURE_DTYPES.items() if c in frame.columns})


def delivered_orders(spark: SparkSession, window_days: float) -> pd.DataFrame:
    """Delivered orders of each location's last `window_days` of deliveries."""
    if not has_table(spark, ORDERS):
        raise WarehouseMissingError(
            f"the Spark warehouse has no {ORDERS}: run the pipeline (`casper pipeline`) first"
        )
    sql = _sql(queries.DELIVERED_ORDERS, window_days=float(window_days))
    return to_features(spark.sql(sql).toPandas())


def unscored_orders(spark: SparkSession, model_version: str) -> pd.DataFrame:
    """Delivered orders that have no recommendation from this model version yet."""
    ensure_recommendations(spark)
    if not has_table(spark, ORDERS):
        return to_features(pd.DataFrame(columns=list(SCORING_INPUT)))
    sql = _sql(queries.UNSCORED_ORDERS, version=str(model_version))
    return to_features(spark.sql(sql).toPandas(), SCORING_INPUT)


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
    for column in ("ts", "delivered_ts", "order_ts"):
        frame[column] = pd.to_datetime(frame[column])
    frame["refund_usd"] = frame["refund_usd"].astype(float)
    for column in ("order_id", "agent_response", "refund_class", "reason", "model_version"):
        frame[column] = frame[column].astype(str)
    schema = _schema(spark)
    incoming = spark.createDataFrame(frame, schema=schema)
    held = spark.table(RECOMMENDATIONS).select("order_id", "model_version")
    # computed before the insert, which reads the table it writes to: a batch's recommendations
    # are small, so they come back here (localCheckpoint would do it in Spark, but Spark Connect
    # on serverless compute has no checkpoints)
    new = (
        incoming.dropDuplicates(["order_id", "model_version"])
        .join(held, ["order_id", "model_version"], "left_anti")
        .select(*RECOMMENDATION_COLUMNS)
        .toPandas()
    )
    if len(new):
        spark.createDataFrame(new, schema=schema).write.insertInto(RECOMMENDATIONS)
    return len(new)


def _schema(spark: SparkSession):
    return spark.table(RECOMMENDATIONS).schema


def recommendation_count(spark: SparkSession, model_version: str) -> int:
    """How many recommendations `model_version` has made."""
    ensure_recommendations(spark)
    held = spark.table(RECOMMENDATIONS)
    return int(held.where(held.model_version == str(model_version)).count())


def recommendations_frame(spark: SparkSession) -> DataFrame:
    ensure_recommendations(spark)
    return spark.table(RECOMMENDATIONS)


def _polars(frame: pd.DataFrame, schema: dict) -> pl.DataFrame:
    if frame.empty:
        return pl.DataFrame(schema=schema)
    return pl.from_pandas(frame).select(pl.col(name).cast(kind) for name, kind in schema.items())


def fresh_recommendations(spark: SparkSession, since: dt.datetime | None) -> pl.DataFrame:
    """Recommendations scored at or after `since`, the newest per order, oldest first."""
    if not has_table(spark, RECOMMENDATIONS):
        return pl.DataFrame(schema=SYNC_RECOMMENDATION_SCHEMA)
    ensure_recommendations(spark)  # a table from before a column was added gets it
    fresh = spark.sql(_sql(queries.FRESH_RECOMMENDATIONS, since=queries.naive_utc_text(since)))
    rows = fresh.toPandas().loc[:, list(queries.SYNC_RECOMMENDATION_COLUMNS)]
    return _polars(rows, SYNC_RECOMMENDATION_SCHEMA).sort("ts", "order_id")


def order_context(spark: SparkSession, order_ids: pl.Series) -> pl.DataFrame:
    """The review app's view of these orders (queries.SYNC_CONTEXT), through a temporary view."""
    from pyspark.sql.types import StringType, StructField, StructType

    view = f"casper_fresh_{uuid.uuid4().hex}"
    wanted = pd.DataFrame({"order_id": order_ids.to_list()})
    schema = StructType([StructField("order_id", StringType())])
    _frame(spark, wanted, schema).createOrReplaceTempView(view)
    try:
        context = spark.sql(_sql(queries.SYNC_CONTEXT, tables={"fresh": view})).toPandas()
    finally:
        spark.catalog.dropTempView(view)
    return _polars(context, SYNC_CONTEXT_SCHEMA)


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


def _frame(spark: SparkSession, rows: pd.DataFrame, schema) -> DataFrame:
    """A DataFrame of rows fetched with `schema` (an empty frame keeps its columns' types)."""
    if rows.empty:
        return spark.createDataFrame([], schema=schema)
    return spark.createDataFrame(rows, schema=schema)


def default_format(spark: SparkSession) -> str:
    """The format new tables get: the session's default (parquet here, Delta on Databricks)."""
    return spark.conf.get("spark.sql.sources.default", "parquet")


def _sql(sql: str, **params: object) -> str:
    return queries.render(sql, "spark", **params)


class SessionWarehouse:
    """The refund warehouse (casper.engine.RefundWarehouse) on the tables of the session that
    `session()` answers (asked at each call: a local session may be restarted meanwhile)."""

    def __init__(self, session: Callable[[], SparkSession]) -> None:
        self.session = session

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

    def fresh_recommendations(self, since: dt.datetime | None) -> pl.DataFrame:
        return fresh_recommendations(self.session(), since)

    def order_context(self, order_ids: pl.Series) -> pl.DataFrame:
        return order_context(self.session(), order_ids)

    def counts(self) -> dict[str, int | None]:
        return counts(self.session())
