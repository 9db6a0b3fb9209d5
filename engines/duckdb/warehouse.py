"""The refund side of the DuckDB warehouse: what to train on, what to score, where scores go, and
the counts `casper status` shows. The SQL is casper.refunds.queries', run as DuckDB SQL.

Connections are short-lived: an open DuckDB connection locks the file for every other process.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from casper.engine import WarehouseBusyError, WarehouseMissingError
from casper.refunds import RECOMMENDATION_COLUMNS, SCORING_INPUT, queries
from engines.duckdb.connect import MEMORY_LIMIT, connect_waiting

if TYPE_CHECKING:  # frames are made where they are asked for: `casper status` needs none
    import pandas as pd
    import polars as pl


class DuckDBWarehouse:
    def __init__(self, path: Path, wait_seconds: float) -> None:
        self.path = path
        #: how long to wait for another process holding the file (Settings.warehouse_wait_seconds)
        self.wait_seconds = wait_seconds

    @contextlib.contextmanager
    def connect(
        self, *, read_only: bool = False, wait_seconds: float | None = None
    ) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection, waiting while another process holds the file (connect_waiting)."""
        if read_only and not self.path.exists():
            raise WarehouseMissingError(f"no warehouse at {self.path}: run `casper pipeline` first")
        connection = connect_waiting(
            str(self.path),
            read_only=read_only,
            wait_seconds=self.wait_seconds if wait_seconds is None else wait_seconds,
        )
        try:
            connection.execute(f"SET memory_limit = '{MEMORY_LIMIT}'")
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
            return connection.execute(_sql(queries.DELIVERED_ORDERS, window_days=window_days)).df()

    def unscored_orders(self, model_version: str) -> pd.DataFrame:
        """Delivered orders that have no recommendation from this model version yet."""
        with self.connect() as connection:
            _ensure_recommendations(connection)
            if not self._has(connection, "ai", "order_delivery_times"):
                import pandas as pd

                return pd.DataFrame(columns=list(SCORING_INPUT))
            sql = _sql(queries.UNSCORED_ORDERS, version=str(model_version))
            return connection.execute(sql).df()

    def order_features(self, order_ids: list[str]) -> pd.DataFrame:
        """The refund model's features of the given (delivered) orders."""
        import pandas as pd

        with self.connect(read_only=True) as connection:
            connection.register(
                "wanted", pd.DataFrame({"order_id": pd.Series(order_ids, dtype=str)})
            )
            return connection.execute(_sql(queries.ORDER_FEATURES)).df()

    def append_recommendations(self, recommendations: pd.DataFrame) -> int:
        """Insert; a (order_id, model_version) already there is kept, so a re-run adds nothing."""
        if recommendations.empty:
            return 0
        with self.connect() as connection:
            _ensure_recommendations(connection)
            count = f"SELECT count(*) FROM {queries.RECOMMENDATIONS}"
            before = connection.execute(count).fetchone()[0]
            connection.register("incoming", recommendations)
            columns = ", ".join(RECOMMENDATION_COLUMNS)
            connection.execute(
                f"INSERT INTO {queries.RECOMMENDATIONS} ({columns}) SELECT {columns} FROM incoming "
                "ON CONFLICT DO NOTHING"
            )
            return connection.execute(count).fetchone()[0] - before

    def recommendations(self) -> pd.DataFrame:
        """Every recommendation held (all model versions)."""
        with self.connect(read_only=True) as connection:
            if not self._has(connection, "recommender", "refund_recommendations"):
                import pandas as pd

                return pd.DataFrame(columns=list(RECOMMENDATION_COLUMNS))
            return connection.execute(f"SELECT * FROM {queries.RECOMMENDATIONS}").df()

    def fresh_recommendations(self, since: dt.datetime | None) -> pl.DataFrame:
        """Recommendations scored at or after `since`, the newest per order, oldest first."""
        import polars as pl

        with self.connect(read_only=True) as connection:
            if not self._has(connection, "recommender", "refund_recommendations"):
                return pl.DataFrame()
            stale = bool(_missing_columns(connection))
        if stale:  # a table from before a column was added: add it
            with self.connect() as connection:
                _ensure_recommendations(connection)
        fresh = _sql(queries.FRESH_RECOMMENDATIONS, since=queries.naive_utc_text(since))
        columns = ", ".join(queries.SYNC_RECOMMENDATION_COLUMNS)
        with self.connect(read_only=True) as connection:
            return connection.execute(f"SELECT {columns} FROM ({fresh}) ORDER BY ts, order_id").pl()

    def order_context(self, order_ids: pl.Series) -> pl.DataFrame:
        """The review app's view of these orders (queries.SYNC_CONTEXT). A connection of its own:
        between a sync's batches the warehouse is free for other processes."""
        with self.connect(read_only=True) as connection:
            connection.register("wanted", order_ids.to_frame("order_id").to_arrow())
            return connection.execute(_sql(queries.SYNC_CONTEXT, tables={"fresh": "wanted"})).pl()

    def counts(self, wait_seconds: float = 1.0) -> dict[str, int | None]:
        """casper status' warehouse figures: 0 for a table not built yet (or no warehouse), None
        for all when another process holds the warehouse for longer than `wait_seconds`."""
        if not self.path.exists():
            return dict.fromkeys(queries.COUNTS, 0)
        try:
            with self.connect(read_only=True, wait_seconds=wait_seconds) as connection:
                counts: dict[str, int | None] = {}
                for key, sql in queries.COUNTS.items():
                    try:
                        counts[key] = int(connection.execute(_sql(sql)).fetchone()[0])
                    except duckdb.CatalogException:
                        counts[key] = 0
                return counts
        except WarehouseBusyError:
            return dict.fromkeys(queries.COUNTS)


def _ensure_recommendations(connection: duckdb.DuckDBPyConnection) -> None:
    """The recommendations table, made if missing, given the columns added since it was made."""
    connection.execute(_sql(queries.RECOMMENDATIONS_SCHEMA_DDL))
    connection.execute(_sql(queries.RECOMMENDATIONS_DDL))
    for name in _missing_columns(connection):
        kind = queries.RECOMMENDATIONS_ADDED_COLUMNS[name]
        connection.execute(f"ALTER TABLE {queries.RECOMMENDATIONS} ADD COLUMN {name} {kind}")


def _missing_columns(connection: duckdb.DuckDBPyConnection) -> list[str]:
    """Columns added to the recommendations table since an existing one was made."""
    held = {
        name
        for (name,) in connection.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = 'recommender' AND table_name = 'refund_recommendations'"
        ).fetchall()
    }
    return [name for name in queries.RECOMMENDATIONS_ADDED_COLUMNS if name not in held]


def _sql(sql: str, **params: object) -> str:
    return queries.render(sql, "duckdb", **params)
