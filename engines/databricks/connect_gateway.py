"""SQLMesh's spark engine on a local Spark Connect session: the models' gateway in the local
stand-in of a Databricks job (engines/databricks/runtime.py).

SQLMesh's own spark connection builds a classic session from a SparkConf, which cannot be mixed
with a Spark Connect one in the same process; this connection hands SQLMesh the Connect session
instead, so the models run through the same client API as on serverless compute.
"""

from __future__ import annotations

import typing as t
import warnings

from sqlmesh.core.config import SparkConnectionConfig

_sessions: list = []


def connect_session(conf: dict[str, str]):
    """The process's local Spark Connect session (started with `conf` on first use)."""
    from pyspark.sql import SparkSession

    if _sessions and not _sessions[0].is_stopped:
        return _sessions[0]
    with warnings.catch_warnings():
        # the local server starts with `conf`; the client then tries to set the same settings on
        # the session, which Spark refuses for static ones (they are already in effect)
        warnings.filterwarnings("ignore", message=".*CANNOT_MODIFY.*")
        session = SparkSession.builder.remote("local[2]").config(map=conf).getOrCreate()
    _sessions[:] = [session]
    return session


class SparkConnectConnectionConfig(SparkConnectionConfig):
    """A `spark` connection whose session is `connect_session(config)`."""

    @property
    def _static_connection_kwargs(self) -> dict[str, t.Any]:
        return {"spark": connect_session(dict(self.config))}
