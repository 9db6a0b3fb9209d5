"""Road networks for delivery routing: loading or generating a city's streets, and routing on them.

The names below are imported on first use: reading a cached route table (casper.roads.table)
needs numpy only, while building one needs networkx and scipy.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from casper.roads.network import RoadsError, fetch_network, load_network
    from casper.roads.routing import build_route_table
    from casper.roads.synthetic import synthetic_city
    from casper.roads.table import RouteTable

_HOMES = {
    "RoadsError": "casper.roads.network",
    "fetch_network": "casper.roads.network",
    "load_network": "casper.roads.network",
    "build_route_table": "casper.roads.routing",
    "synthetic_city": "casper.roads.synthetic",
    "RouteTable": "casper.roads.table",
}

__all__ = [
    "RoadsError",
    "RouteTable",
    "build_route_table",
    "fetch_network",
    "load_network",
    "synthetic_city",
]


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'casper.roads' has no attribute {name!r}")
    value = getattr(importlib.import_module(_HOMES[name]), name)
    globals()[name] = value
    return value
