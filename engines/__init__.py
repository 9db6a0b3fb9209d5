"""What differs per engine. Everything outside this package is engine-agnostic.

Each engine answers the same small set of questions (see ARCHITECTURE.md): where raw events land,
which SQLMesh gateway runs the models, which MLflow registry holds the model, how scoring runs and
where the app store lives.
"""

from __future__ import annotations

from engines.base import Engine, Lander, LocalLander, UnknownEngineError

ENGINE_NAMES = ("duckdb", "spark")


def get_engine(name: str, home) -> Engine:
    """The engine called `name`, bound to a Casper home."""
    if name == "duckdb":
        from engines.duckdb import DuckDBEngine

        return DuckDBEngine(home)
    if name == "spark":
        from engines.spark import SparkEngine

        return SparkEngine(home)
    raise UnknownEngineError(f"unknown engine {name!r}: choose one of {', '.join(ENGINE_NAMES)}")


__all__ = ["ENGINE_NAMES", "Engine", "Lander", "LocalLander", "UnknownEngineError", "get_engine"]
