"""The SQLMesh gateway of the duckdb engine: the models and the SQLMesh state in warehouse.duckdb."""

from __future__ import annotations

from typing import TYPE_CHECKING

from casper.home import CasperHome

if TYPE_CHECKING:
    from sqlmesh.core.config import GatewayConfig


def gateway_config(home: CasperHome) -> GatewayConfig:
    """One DuckDB file holds the medallion tables and SQLMesh's own state (schema `sqlmesh`)."""
    from sqlmesh.core.config import DuckDBConnectionConfig, GatewayConfig

    return GatewayConfig(
        # row order in tables carries no meaning here; letting DuckDB drop it parallelises inserts
        connection=DuckDBConnectionConfig(
            database=str(home.warehouse),
            connector_config={"preserve_insertion_order": False},
            # independent models (the gold ones) run side by side: DuckDB releases the GIL
            concurrent_tasks=4,
            # model descriptions stay in the project; COMMENT ON costs time on every rebuild
            register_comments=False,
        ),
        test_connection=DuckDBConnectionConfig(),
    )


def close_connections(home: CasperHome) -> None:
    """Release the warehouse file lock held by SQLMesh's shared DuckDB adapter, if any.

    SQLMesh shares one DuckDB adapter per data file across contexts (a class-level cache); closing its
    pool closes the connection, and the pool reconnects on next use.
    """
    from sqlmesh.core.config.connection import BaseDuckDBConnectionConfig

    adapter = BaseDuckDBConnectionConfig._data_file_to_adapter.get(str(home.warehouse))
    if adapter is not None:
        adapter.close()
