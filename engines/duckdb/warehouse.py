"""The refund side of the DuckDB warehouse: what to train on, what to score, where scores go.

Connections are short-lived: an open DuckDB connection locks the file for every other process.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pandas as pd
import polars as pl

from casper.errors import CasperError
from casper.refunds.scoring import SCORING_INPUT

RECOMMENDATIONS_DDL = """
CREATE SCHEMA IF NOT EXISTS recommender;
CREATE TABLE IF NOT EXISTS recommender.refund_recommendations (
    order_id VARCHAR NOT NULL,
    ts TIMESTAMP NOT NULL,
    agent_response VARCHAR NOT NULL,
    refund_class VARCHAR NOT NULL,
    refund_usd DOUBLE NOT NULL,
    reason VARCHAR NOT NULL,
    model_version VARCHAR NOT NULL,
    location VARCHAR,
    delivered_ts TIMESTAMP,
    PRIMARY KEY (order_id, model_version)
);
"""
LOCK_RETRY_SECONDS = 10.0
# what the review app shows about an order, for the orders in the temp table `fresh`
SYNC_CONTEXT = """
WITH wanted AS (SELECT DISTINCT order_id FROM fresh),
timeline AS (
  SELECT order_id,
         to_json(list({'sequence': sequence, 'event_type': event_type,
                       'ts': strftime(ts, '%Y-%m-%d %H:%M:%S.%f')} ORDER BY sequence, ts)) AS events
  FROM (
    SELECT DISTINCT ON (e.event_id) e.order_id, e.sequence, e.event_type, e.ts
    FROM lakeflow.all_events AS e JOIN wanted USING (order_id)
    WHERE e.event_type <> 'driver_ping'
  )
  GROUP BY order_id
),
basket AS (
  SELECT s.order_id,
         to_json(list({'name': s.item_name, 'brand': b.name, 'price': CAST(s.price AS DOUBLE), 'qty': s.qty}
                      ORDER BY s.brand_id, s.item_id)) AS items
  FROM lakeflow.silver_order_items AS s JOIN wanted USING (order_id)
  LEFT JOIN simulator.brands AS b USING (brand_id)
  GROUP BY s.order_id
),
route AS (
  SELECT e.order_id, CAST(json_extract(e.body, '$.route_points') AS VARCHAR) AS route
  FROM lakeflow.all_events AS e JOIN wanted USING (order_id)
  WHERE e.event_type = 'driver_picked_up'
  QUALIFY row_number() OVER (PARTITION BY e.order_id ORDER BY e.ts, e.event_id) = 1
)
SELECT d.order_id, d.location, d.location AS location_title,
       CAST(d.order_revenue AS DOUBLE) AS order_total, d.delivery_minutes,
       t.p50, t.p75, t.p99, d.created_ts,
       coalesce(timeline.events, '[]') AS events,
       coalesce(basket.items, '[]') AS items,
       coalesce(route.route, '[]') AS route
FROM ai.order_delivery_times AS d
JOIN wanted USING (order_id)
LEFT JOIN ai.location_timings AS t USING (location)
LEFT JOIN timeline USING (order_id)
LEFT JOIN basket USING (order_id)
LEFT JOIN route USING (order_id)
ORDER BY d.order_id
"""
# the refund model's view of an order (casper.refunds.scoring.SCORING_INPUT)
ORDER_FEATURES = """
    d.order_id, d.location, d.delivery_minutes, d.order_revenue AS order_total,
    d.distance_km, CAST(d.total_items AS DOUBLE) AS total_items,
    CAST(hour(d.created_ts) AS DOUBLE) AS created_hour, d.delivered_ts
"""


class WarehouseBusyError(CasperError):
    pass


class WarehouseMissingError(CasperError):
    pass


class DuckDBWarehouse:
    def __init__(self, path: Path) -> None:
        self.path = path

    @contextlib.contextmanager
    def connect(
        self, *, read_only: bool = False, wait_seconds: float = LOCK_RETRY_SECONDS
    ) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection, retried while another process holds the file's lock."""
        if read_only and not self.path.exists():
            raise WarehouseMissingError(f"no warehouse at {self.path}: run `casper pipeline` first")
        deadline = time.monotonic() + wait_seconds
        while True:
            try:
                connection = duckdb.connect(str(self.path), read_only=read_only)
                break
            except duckdb.IOException as exc:
                if "lock" not in str(exc).lower() or time.monotonic() > deadline:
                    raise WarehouseBusyError(f"the warehouse {self.path} is busy: {exc}") from None
                time.sleep(0.2)
        try:
            yield connection
        finally:
            connection.close()

    @staticmethod
    def _has(connection, schema: str, table: str) -> bool:
        return bool(
            connection.execute(
                "SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
                [schema, table],
            ).fetchone()[0]
        )

    def delivered_orders(self, window_days: float) -> pd.DataFrame:
        """Delivered orders of each location's last `window_days` of deliveries."""
        with self.connect(read_only=True) as connection:
            if not self._has(connection, "ai", "order_delivery_times"):
                raise WarehouseMissingError(
                    "the warehouse has no ai.order_delivery_times: run `casper pipeline` first"
                )
            return connection.execute(
                f"""
                WITH delivered AS (
                  SELECT {ORDER_FEATURES}, max(d.delivered_ts) OVER (PARTITION BY d.location) AS newest
                  FROM ai.order_delivery_times AS d
                  WHERE d.delivered_ts IS NOT NULL AND d.delivery_minutes >= 0
                )
                SELECT * EXCLUDE (newest)
                FROM delivered
                WHERE delivered_ts >= newest - to_microseconds(CAST(? * 86400000000 AS BIGINT))
                ORDER BY location, delivered_ts, order_id
                """,
                [window_days],
            ).df()

    def unscored_orders(self, model_version: str) -> pd.DataFrame:
        """Delivered orders that have no recommendation from this model version yet."""
        with self.connect() as connection:
            connection.execute(RECOMMENDATIONS_DDL)
            if not self._has(connection, "ai", "order_delivery_times"):
                return pd.DataFrame(columns=list(SCORING_INPUT))
            return connection.execute(
                f"""
                SELECT {ORDER_FEATURES}
                FROM ai.order_delivery_times AS d
                WHERE d.delivered_ts IS NOT NULL
                  AND NOT EXISTS (
                    SELECT 1 FROM recommender.refund_recommendations AS r
                    WHERE r.order_id = d.order_id AND r.model_version = ?
                  )
                ORDER BY d.delivered_ts, d.order_id
                """,
                [model_version],
            ).df()

    def order_features(self, order_ids: list[str]) -> pd.DataFrame:
        """The refund model's features of the given (delivered) orders."""
        with self.connect(read_only=True) as connection:
            connection.register(
                "wanted", pd.DataFrame({"order_id": pd.Series(order_ids, dtype=str)})
            )
            return connection.execute(
                f"""
                SELECT {ORDER_FEATURES}
                FROM ai.order_delivery_times AS d JOIN wanted USING (order_id)
                WHERE d.delivered_ts IS NOT NULL
                """
            ).df()

    def append_recommendations(self, recommendations: pd.DataFrame) -> int:
        """Insert; a (order_id, model_version) already there is kept, so a re-run adds nothing."""
        if recommendations.empty:
            return 0
        with self.connect() as connection:
            connection.execute(RECOMMENDATIONS_DDL)
            before = connection.execute(
                "SELECT count(*) FROM recommender.refund_recommendations"
            ).fetchone()[0]
            connection.register("incoming", recommendations)
            connection.execute(
                """
                INSERT INTO recommender.refund_recommendations
                SELECT order_id, ts, agent_response, refund_class, refund_usd, reason, model_version,
                       location, delivered_ts
                FROM incoming
                ON CONFLICT DO NOTHING
                """
            )
            after = connection.execute(
                "SELECT count(*) FROM recommender.refund_recommendations"
            ).fetchone()[0]
            return after - before

    def sync_frames(self, since: dt.datetime | None) -> tuple[pl.DataFrame, pl.DataFrame]:
        """Recommendations scored at or after `since` (the newest per order) and their orders' context,
        in the shapes casper.appstore.sync.sync_frames takes."""
        with self.connect(read_only=True) as connection:
            if not self._has(connection, "recommender", "refund_recommendations"):
                return pl.DataFrame(), pl.DataFrame()
            connection.execute(
                """
                CREATE TEMP TABLE fresh AS
                SELECT * FROM recommender.refund_recommendations
                WHERE ? IS NULL OR ts >= ?
                QUALIFY row_number() OVER (
                  PARTITION BY order_id ORDER BY ts DESC, TRY_CAST(model_version AS BIGINT) DESC NULLS LAST
                ) = 1
                """,
                [since, since],
            )
            recommendations = connection.execute(
                "SELECT order_id, ts, agent_response, refund_class, refund_usd, reason, model_version, location "
                "FROM fresh ORDER BY ts, order_id"
            ).pl()
            context = connection.execute(SYNC_CONTEXT).pl()
        return recommendations, context

    def recommendation_count(self, wait_seconds: float = LOCK_RETRY_SECONDS) -> int:
        """Orders with at least one recommendation."""
        if not self.path.exists():
            return 0
        with self.connect(read_only=True, wait_seconds=wait_seconds) as connection:
            if not self._has(connection, "recommender", "refund_recommendations"):
                return 0
            query = "SELECT count(DISTINCT order_id) FROM recommender.refund_recommendations"
            return connection.execute(query).fetchone()[0]
