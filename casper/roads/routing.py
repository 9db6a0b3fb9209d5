"""Every shortest route out of one kitchen, precomputed into flat arrays.

Routing an order is then a gather: pick a destination index `i`, read `dist_m[i]`, and the
route is `route_lat/route_lon[route_offsets[i]:route_offsets[i + 1]]` (a CSR layout), so a
generator can route 100,000 orders without a Python loop per order.
"""

from __future__ import annotations

from dataclasses import dataclass

import networkx as nx
import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

from casper.roads.geo import METRES_PER_DEGREE_LAT, metres_per_degree_lon
from casper.roads.table import RouteTable

UNNAMED_STREET = "Unnamed Rd"
# House numbers go up by a hundred per block; about 13 blocks to the mile.
ADDRESS_BLOCK_M = 125.0


def build_route_table(G: nx.MultiDiGraph, kitchen_lat: float, kitchen_lon: float) -> RouteTable:
    """One Dijkstra from the intersection nearest the kitchen, unrolled into every route."""
    if len(G) == 0:
        raise ValueError("the road network has no intersections to route between")
    node_ids = np.fromiter(G.nodes, dtype=np.int64, count=len(G))
    lon = np.fromiter((x for _, x in G.nodes(data="x")), dtype=np.float64, count=len(G))
    lat = np.fromiter((y for _, y in G.nodes(data="y")), dtype=np.float64, count=len(G))
    x_m, y_m = _local_metres(lat, lon, kitchen_lat, kitchen_lon)
    kitchen = int(np.argmin(x_m**2 + y_m**2))

    edges = _EdgeArrays.from_graph(G)
    dist, parent = dijkstra(
        edges.shortest_csr(), directed=True, indices=kitchen, return_predecessors=True
    )
    parent = parent.astype(np.int64)
    reached = np.flatnonzero(parent >= 0)
    destinations = reached[np.argsort(dist[reached], kind="stable")]

    offsets, route_lat, route_lon = _unroll_routes(
        kitchen, destinations, parent, lat, lon, edges.interior_points(parent, reached, lat, lon)
    )
    street = np.array(
        [edges.street_of.get(i, UNNAMED_STREET) for i in destinations.tolist()], dtype=str
    )
    return RouteTable(
        kitchen_node=int(node_ids[kitchen]),
        nodes=node_ids[destinations],
        dist_m=dist[destinations],
        route_offsets=offsets,
        route_lat=route_lat,
        route_lon=route_lon,
        street=street,
        block=_block_numbers(x_m[destinations], y_m[destinations], street),
    )


def _local_metres(
    lat: np.ndarray, lon: np.ndarray, origin_lat: float, origin_lon: float
) -> tuple[np.ndarray, np.ndarray]:
    """East and north offsets from the origin; flat-Earth, fine across a city."""
    east = (lon - origin_lon) * metres_per_degree_lon(origin_lat)
    north = (lat - origin_lat) * METRES_PER_DEGREE_LAT
    return east, north


@dataclass(frozen=True)
class _EdgeArrays:
    """The graph's edges by node position (not id), plus what routes and addresses need from them."""

    node_count: int
    sources: np.ndarray
    targets: np.ndarray
    lengths: np.ndarray
    geometries: dict[int, object]  # edge position -> shapely LineString, for curved edges only
    street_of: dict[int, str]  # node position -> a name of a street through it
    # The shortest of each set of parallel edges: its (source, target) keys, sorted, and position.
    pair_keys: np.ndarray
    shortest: np.ndarray

    @classmethod
    def from_graph(cls, G: nx.MultiDiGraph) -> _EdgeArrays:
        position_of = {node: i for i, node in enumerate(G.nodes)}
        sources, targets, lengths = [], [], []
        geometries: dict[int, object] = {}
        street_of: dict[int, str] = {}
        for edge, (u, v, data) in enumerate(G.edges(data=True)):
            source, target = position_of[u], position_of[v]
            sources.append(source)
            targets.append(target)
            lengths.append(float(data["length"]))
            if data.get("geometry") is not None:
                geometries[edge] = data["geometry"]
            name = _first_name(data.get("name"))
            if name:
                street_of.setdefault(source, name)
                street_of.setdefault(target, name)

        node_count = len(position_of)
        source_array = np.asarray(sources, dtype=np.int64)
        target_array = np.asarray(targets, dtype=np.int64)
        length_array = np.asarray(lengths, dtype=np.float64)
        by_pair_then_length = np.lexsort((length_array, target_array, source_array))
        keys = _pair_keys(source_array, target_array, node_count)[by_pair_then_length]
        first_of_pair = np.r_[True, keys[1:] != keys[:-1]]
        return cls(
            node_count=node_count,
            sources=source_array,
            targets=target_array,
            lengths=length_array,
            geometries=geometries,
            street_of=street_of,
            pair_keys=keys[first_of_pair],
            shortest=by_pair_then_length[first_of_pair],
        )

    def shortest_csr(self) -> csr_matrix:
        # Building CSR from COO would add parallel edges' lengths up; keep only the shortest.
        n = self.node_count
        chosen = self.shortest
        return csr_matrix(
            (self.lengths[chosen], (self.sources[chosen], self.targets[chosen])), shape=(n, n)
        )

    def interior_points(
        self, parent: np.ndarray, reached: np.ndarray, lat: np.ndarray, lon: np.ndarray
    ) -> dict[int, np.ndarray]:
        """Node position -> (k, 2) lat/lon of the bends inside the tree edge that reaches it."""
        tree_keys = _pair_keys(parent[reached], reached, self.node_count)
        tree_edges = self.shortest[np.searchsorted(self.pair_keys, tree_keys)]
        bends = {}
        for node, edge in zip(reached.tolist(), tree_edges.tolist(), strict=True):
            geometry = self.geometries.get(edge)
            if geometry is None:
                continue
            lon_lat = np.asarray(geometry.coords, dtype=np.float64)
            source = self.sources[edge]
            # osmnx draws geometries from u to v, but a hand-made graph might not.
            start_gap = np.hypot(*(lon_lat[0] - (lon[source], lat[source])))
            end_gap = np.hypot(*(lon_lat[-1] - (lon[source], lat[source])))
            if end_gap < start_gap:
                lon_lat = lon_lat[::-1]
            if len(lon_lat) > 2:
                bends[node] = lon_lat[1:-1, ::-1]
        return bends


def _pair_keys(sources: np.ndarray, targets: np.ndarray, node_count: int) -> np.ndarray:
    return sources * node_count + targets


def _first_name(name: object) -> str | None:
    """osmnx gives a merged edge the list of its ways' names."""
    if isinstance(name, list):
        name = next((n for n in name if n), None)
    return str(name) if name else None


def _concatenated_ranges(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """np.r_[starts[0]:starts[0]+counts[0], starts[1]:...], without a Python loop."""
    ends = np.cumsum(counts)
    return np.arange(ends[-1] if len(ends) else 0) + np.repeat(starts - (ends - counts), counts)


def _tree_levels(root: int, parent: np.ndarray) -> list[np.ndarray]:
    """Nodes of the shortest-path tree by depth, so every parent comes before its children."""
    children = np.flatnonzero(parent >= 0)
    children = children[np.argsort(parent[children], kind="stable")]
    child_count = np.bincount(parent[children], minlength=len(parent))
    first_child = np.cumsum(child_count) - child_count
    levels = []
    frontier = np.array([root], dtype=np.int64)
    while frontier.size:
        levels.append(frontier)
        frontier = children[_concatenated_ranges(first_child[frontier], child_count[frontier])]
    return levels


def _unroll_routes(
    kitchen: int,
    destinations: np.ndarray,
    parent: np.ndarray,
    lat: np.ndarray,
    lon: np.ndarray,
    bends: dict[int, np.ndarray],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """CSR offsets and points of every destination's route.

    A route is its parent's route plus the edge into the node, so filling the tree level by
    level lets each level copy all its parents' routes in one vectorised gather.
    """
    n = len(parent)
    # What the tree edge into each node adds: its bends, then the node itself.
    step_count = np.ones(n, dtype=np.int64)
    for node, points in bends.items():
        step_count[node] += len(points)
    step_end = np.cumsum(step_count)
    step_start = step_end - step_count
    step_lat, step_lon = np.empty(step_end[-1]), np.empty(step_end[-1])
    step_lat[step_end - 1], step_lon[step_end - 1] = lat, lon
    for node, points in bends.items():
        step_lat[step_start[node] : step_end[node] - 1] = points[:, 0]
        step_lon[step_start[node] : step_end[node] - 1] = points[:, 1]

    levels = _tree_levels(kitchen, parent)
    route_count = np.zeros(n, dtype=np.int64)
    route_count[kitchen] = 1
    for level in levels[1:]:
        route_count[level] = route_count[parent[level]] + step_count[level]

    # The kitchen's own one-point route heads the buffer so its children can copy it like any other.
    order = np.r_[kitchen, destinations]
    route_end = np.cumsum(route_count[order])
    route_start = np.empty(n, dtype=np.int64)
    route_start[order] = route_end - route_count[order]
    buffer_lat, buffer_lon = np.empty(route_end[-1]), np.empty(route_end[-1])
    buffer_lat[0], buffer_lon[0] = lat[kitchen], lon[kitchen]
    for level in levels[1:]:
        parents = parent[level]
        inherited = route_count[parents]
        to = _concatenated_ranges(route_start[level], inherited)
        source = _concatenated_ranges(route_start[parents], inherited)
        buffer_lat[to], buffer_lon[to] = buffer_lat[source], buffer_lon[source]
        to = _concatenated_ranges(route_start[level] + inherited, step_count[level])
        source = _concatenated_ranges(step_start[level], step_count[level])
        buffer_lat[to], buffer_lon[to] = step_lat[source], step_lon[source]

    offsets = np.r_[route_start[destinations], route_end[-1]] - 1
    return offsets.astype(np.int64), buffer_lat[1:], buffer_lon[1:]


def _block_numbers(x_m: np.ndarray, y_m: np.ndarray, street: np.ndarray) -> np.ndarray:
    """Hundred-blocks counted from where each street starts, along its longer extent."""
    names, group = np.unique(street, return_inverse=True)
    extents = []
    for coordinate in (x_m, y_m):
        low = np.full(len(names), np.inf)
        high = np.full(len(names), -np.inf)
        np.minimum.at(low, group, coordinate)
        np.maximum.at(high, group, coordinate)
        extents.append((low, high))
    (x_low, x_high), (y_low, y_high) = extents
    runs_east_west = (x_high - x_low) >= (y_high - y_low)
    along = np.where(runs_east_west[group], x_m - x_low[group], y_m - y_low[group])
    return (100 * (1 + along // ADDRESS_BLOCK_M)).astype(np.int64)
