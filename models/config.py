"""SQLMesh configs for the `sqlmesh` CLI, one per gateway, each built only when asked for.

`sqlmesh -p models plan` uses `config` (the engine in $CASPER_ENGINE, default duckdb);
`sqlmesh -p models --config spark_config plan` the Spark one. Only the requested config is built:
loading Spark's starts a JVM. The home is $CASPER_HOME (default ./.casper), as for the `casper` CLI.
The pipeline itself (casper.pipeline) builds the same Config in Python.
"""

from __future__ import annotations

import os

ENGINES = ("duckdb", "spark")


def __getattr__(name: str):
    from casper.home import CasperHome
    from casper.pipeline import sqlmesh_config

    if name == "config":
        engine = os.environ.get("CASPER_ENGINE", "duckdb")
    elif name.endswith("_config") and name.removesuffix("_config") in ENGINES:
        engine = name.removesuffix("_config")
    else:
        raise AttributeError(name)
    return sqlmesh_config(engine, CasperHome.resolve().ensure())
