"""The SQLMesh gateway of the duckdb engine: the models and the SQLMesh state in warehouse.duckdb."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

from casper.home import CasperHome
from engines.duckdb.connect import MEMORY_LIMIT
from engines.local import release_duckdb_file

if TYPE_CHECKING:
    from sqlmesh.core.config import GatewayConfig


@functools.cache
def _waiting_connection_config() -> type:
    """DuckDBConnectionConfig opening the file through connect_waiting: a tick that meets a busy
    warehouse (a `casper sync`, a DuckDB client) waits for it. (A class built on first use, so
    importing this module does not import SQLMesh.)"""
    from pydantic import Field
    from sqlmesh.core.config import DuckDBConnectionConfig

    from engines.duckdb.connect import connect_waiting

    class WaitingDuckDBConnectionConfig(DuckDBConnectionConfig):
        wait_seconds: float = Field(default=0.0, ge=0)

        @property
        def _connection_factory(self):
            return functools.partial(connect_waiting, wait_seconds=self.wait_seconds)

    return WaitingDuckDBConnectionConfig


def gateway_config(home: CasperHome, *, wait_seconds: float) -> GatewayConfig:
    """One DuckDB file holds the medallion tables and SQLMesh's own state (schema `sqlmesh`).
    Opening it waits up to `wait_seconds` while another process holds it."""
    from sqlmesh.core.config import DuckDBConnectionConfig, GatewayConfig

    return GatewayConfig(
        # row order in tables carries no meaning here; letting DuckDB drop it parallelises inserts
        connection=_waiting_connection_config()(
            database=str(home.warehouse),
            # under a limit DuckDB spills instead of taking 80% of RAM (a year's build stays < 2 GiB)
            connector_config={"preserve_insertion_order": False, "memory_limit": MEMORY_LIMIT},
            # independent models (the staging ones) run side by side: DuckDB releases the GIL
            concurrent_tasks=4,
            # model descriptions stay in the project; COMMENT ON costs time on every rebuild
            register_comments=False,
            wait_seconds=wait_seconds,
        ),
        test_connection=DuckDBConnectionConfig(),
    )


def close_connections(home: CasperHome) -> None:
    """Release the warehouse file lock held by SQLMesh's shared DuckDB adapter, if any."""
    release_duckdb_file(home.warehouse)


def forget_adapter(home: CasperHome) -> None:
    """Close SQLMesh's shared adapter of the warehouse and drop it from SQLMesh's cache, so the
    next pipeline of this process builds its own (with its own gateway settings, e.g. the wait)."""
    release_duckdb_file(home.warehouse, forget=True)
