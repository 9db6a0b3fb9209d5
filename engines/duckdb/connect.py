"""Opening warehouse.duckdb, waiting while another process holds it.

An open DuckDB connection locks the file for every other process, readers included, so a pipeline
tick and a `casper sync` (or the scorer, or a DuckDB client) take turns on it. Both the SQLMesh
gateway (engines/duckdb/sqlmesh.py) and the refund side (engines/duckdb/warehouse.py) open the
file here: whoever meets a busy warehouse waits for it, up to a bound, instead of failing.
"""

from __future__ import annotations

import re
import time

import duckdb

from casper.engine import WarehouseBusyError
from casper.errors import CasperError

#: the first pause between attempts; it doubles up to MAX_PAUSE_S
FIRST_PAUSE_S = 0.05
MAX_PAUSE_S = 1.0

#: what DuckDB's buffer manager may hold (its default is 80% of RAM: a year of history then takes
#: over 4 GiB); past it DuckDB spills to warehouse.duckdb.tmp. Python's own objects come on top
MEMORY_LIMIT = "1GB"

# DuckDB names the holder: 'Conflicting lock is held in /usr/bin/python3 (PID 1234) by user ...'
_HOLDER_PID = re.compile(r"\(PID (\d+)\)")


def connect_waiting(
    database: str, *, wait_seconds: float, read_only: bool = False
) -> duckdb.DuckDBPyConnection:
    """A connection to `database`, retried with growing pauses while another process holds the
    file's lock; WarehouseBusyError (one line naming the file) when it stays held `wait_seconds`."""
    deadline = time.monotonic() + wait_seconds
    pause = FIRST_PAUSE_S
    while True:
        try:
            return duckdb.connect(database, read_only=read_only)
        except duckdb.IOException as exc:
            if "lock" not in str(exc).lower():
                raise CasperError(f"cannot open the warehouse {database}: {exc}") from None
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                holder = _HOLDER_PID.search(str(exc))
                by = f" (pid {holder.group(1)})" if holder else ""
                raise WarehouseBusyError(
                    f"the warehouse {database} is busy: another process{by} held it for "
                    f"{wait_seconds:g} s (CASPER_WAREHOUSE_WAIT_SECONDS sets how long to wait)"
                ) from None
            time.sleep(min(pause, remaining))
            pause = min(2 * pause, MAX_PAUSE_S)
