"""Road networks for delivery routing: loading or generating a city's streets, and routing on them."""

from casper.roads.network import RoadsError, fetch_network, load_network
from casper.roads.routing import RouteTable, build_route_table
from casper.roads.synthetic import synthetic_city

__all__ = [
    "RoadsError",
    "RouteTable",
    "build_route_table",
    "fetch_network",
    "load_network",
    "synthetic_city",
]
