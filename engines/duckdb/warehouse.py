"""The refund side of the DuckDB warehouse: what to train on, what to score, where scores go.

Connections are short-lived: an open DuckDB connection locks the file for every other process.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pandas as pd

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
    def connect(self, *, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection, retried while another process holds the file's lock."""
        if read_only and not self.path.exists():
            raise WarehouseMissingError(f"no warehouse at {self.path}: run `casper pipeline` first")
        deadline = time.monotonic() + LOCK_RETRY_SECONDS
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

    def recommendation_count(self) -> int | None:
        if not self.path.exists():
            return None
        with self.connect(read_only=True) as connection:
            if not self._has(connection, "recommender", "refund_recommendations"):
                return 0
            return connection.execute(
                "SELECT count(*) FROM recommender.refund_recommendations"
            ).fetchone()[0]
