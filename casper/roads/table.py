"""The route table's shape: every shortest route out of one kitchen, in flat arrays (numpy only, so
what reads a cached table needs neither networkx nor scipy; casper/roads/routing.py builds it)."""

from __future__ import annotations

import os
from dataclasses import dataclass, fields

import numpy as np


@dataclass(frozen=True, eq=False)
class RouteTable:
    """Shortest routes from `kitchen_node` to each of `nodes`, sorted by road distance."""

    kitchen_node: int
    nodes: np.ndarray  # int64 destination node ids
    dist_m: np.ndarray  # float64 road distance to each destination
    route_offsets: np.ndarray  # int64, len(nodes) + 1: route i is points [offsets[i], offsets[i+1])
    route_lat: np.ndarray  # float64, from the kitchen node to the destination node
    route_lon: np.ndarray
    street: np.ndarray  # str, a street the destination lies on, for its address
    block: np.ndarray  # int64 hundred-block of the address: 100, 200, ...

    def route_points(self, i: int) -> list[tuple[float, float]]:
        """The (lat, lon) points of the route to destination `i`."""
        start, end = self.route_offsets[i], self.route_offsets[i + 1]
        return list(
            zip(self.route_lat[start:end].tolist(), self.route_lon[start:end].tolist(), strict=True)
        )

    def save(self, path: str | os.PathLike[str]) -> None:
        # An open file stops numpy from appending ".npz" to the name.
        with open(path, "wb") as file:
            np.savez(file, **{f.name: np.asarray(getattr(self, f.name)) for f in fields(self)})

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> RouteTable:
        with np.load(path, allow_pickle=False) as arrays:
            columns = {f.name: arrays[f.name] for f in fields(cls)}
        return cls(**{**columns, "kitchen_node": int(columns["kitchen_node"])})
