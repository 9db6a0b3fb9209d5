"""SQLMesh configs for the `sqlmesh` CLI, one per engine, each built only when asked for.

`sqlmesh -p models plan` uses `config` (the engine in $CASPER_ENGINE, default duckdb);
`sqlmesh -p models --config spark_config plan` the Spark one (any registered engine's name works:
`<name>_config`; from a laptop `databricks_config` plans and renders against the SQL warehouse,
see engines/databricks/warehouse_gateway.py). Only the requested config is built: loading Spark's
starts a JVM. The home is $CASPER_HOME (default ./.casper), as for the `casper` CLI; the pipeline
itself (casper.pipeline.sqlmesh_config) builds the same Config with the engine's gateway_config().
"""

from __future__ import annotations


def __getattr__(name: str):
    from casper.errors import CasperError

    try:
        return _config(name)
    except CasperError as exc:  # the sqlmesh CLI would print a traceback: one line instead
        raise SystemExit(f"Error: {exc}") from None


def _config(name: str):
    from casper.engine import engine_names, open_engine
    from casper.pipeline import sqlmesh_config
    from casper.settings import Settings

    if name == "config":
        settings = Settings.load()
    elif name.endswith("_config") and name.removesuffix("_config") in engine_names():
        settings = Settings.load(engine=name.removesuffix("_config"))
    else:
        raise AttributeError(name)
    engine = open_engine(settings)
    engine.home.ensure()
    return sqlmesh_config(engine, gateway=engine.cli_gateway_config())
