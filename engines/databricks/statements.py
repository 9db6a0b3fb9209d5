"""The refund warehouse's figures read through a SQL warehouse (Statement Execution API), so
`casper status --engine databricks` reports the same keys as on the laptop. The SQL is the same
(casper.refunds.queries), rendered for Databricks."""

from __future__ import annotations

from typing import TYPE_CHECKING

from casper.refunds import queries
from engines.databricks.client import DatabricksError, one_line

if TYPE_CHECKING:
    from databricks.sdk import WorkspaceClient

#: Databricks' error class for a table that does not exist (not built yet counts 0)
NOT_FOUND_MARKERS = ("TABLE_OR_VIEW_NOT_FOUND", "SCHEMA_NOT_FOUND")


class StatementWarehouse:
    def __init__(self, client: WorkspaceClient, warehouse_id: str | None, catalog: str) -> None:
        self.client = client
        self.warehouse_id = warehouse_id
        self.catalog = catalog

    def scalar(self, sql: str) -> int | None:
        """The one number `sql` answers; 0 when its table is not built yet."""
        from databricks.sdk.service.sql import StatementState

        response = self.client.statement_execution.execute_statement(
            statement=queries.render(sql, "databricks"),
            warehouse_id=self.warehouse_id,
            catalog=self.catalog,
            wait_timeout="30s",
        )
        state = response.status.state if response.status else None
        if state == StatementState.SUCCEEDED:
            rows = response.result.data_array if response.result else None
            return int(rows[0][0]) if rows and rows[0][0] is not None else 0
        error = response.status.error.message if response.status and response.status.error else ""
        if any(marker in (error or "") for marker in NOT_FOUND_MARKERS):
            return 0
        raise DatabricksError(f"the SQL warehouse answered {state}: {one_line(Exception(error))}")

    def counts(self) -> dict[str, int | None]:
        if self.warehouse_id is None:
            return dict.fromkeys(queries.COUNTS)  # no warehouse to ask (run `casper up` first)
        return {key: self.scalar(sql) for key, sql in queries.COUNTS.items()}
