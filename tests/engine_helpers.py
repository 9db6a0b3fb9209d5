"""Engines for tests, opened the way the CLI opens them (the registry, the settings)."""

from __future__ import annotations

from casper.engine import Engine, open_engine
from casper.home import CasperHome
from casper.settings import Settings


def engine_for(home: CasperHome, name: str = "duckdb", app_store: str | None = None) -> Engine:
    return open_engine(Settings.load(home=home.root, engine=name, app_store=app_store))
