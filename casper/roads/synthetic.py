"""A generated US-style street network, used when no OpenStreetMap roads are available offline.

The city is a jittered grid clipped to a disc: numbered avenues run north-south, named streets
east-west, and a few diagonal arterials radiate from downtown (as in Detroit or Indianapolis).
One-way pairs, parks, missing segments and cul-de-sacs keep it from being a perfect lattice.
Every street is a straight line; its intersections with other streets are the graph's nodes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import networkx as nx
import numpy as np

from casper.roads.geo import (
    METRES_PER_DEGREE_LAT,
    METRES_PER_MILE,
    haversine_m,
    metres_per_degree_lon,
)

STREET_SPACING_M = (80.0, 130.0)  # short blocks, between east-west streets
AVENUE_SPACING_M = (130.0, 250.0)  # long blocks, between north-south avenues
NODE_JITTER_M = 2.0
# A diagonal crossing a grid street this close to an intersection joins that intersection
# instead of leaving a sliver of road a few metres long.
SNAP_TO_INTERSECTION_M = 12.0

# One diagonal per 45-degree sector, kept this far from the sector's edges so none runs close
# to the grid or to another diagonal.
DIAGONAL_COUNT = 4
DIAGONAL_SECTOR_MARGIN_DEG = 15.0
# Of every ONE_WAY_PAIR_EVERY pairs of neighbouring residential streets, one pair runs one-way
# in opposite directions: 20% of them.
ONE_WAY_PAIR_EVERY = 5
REMOVED_SEGMENT_SHARE = 0.03
INTERSECTIONS_PER_PARK = 250
INTERSECTIONS_PER_CUL_DE_SAC = 100

STREET_BASE_NAMES = (
    "Mission", "Oak", "Pine", "Maple", "Cedar", "Elm", "Walnut", "Chestnut", "Spruce", "Willow",
    "Birch", "Ash", "Cherry", "Laurel", "Magnolia", "Poplar", "Sycamore", "Hickory", "Juniper",
    "Cypress", "Redwood", "Alder", "Hawthorne", "Linden", "Locust", "Mulberry", "Hazel", "Olive",
    "Palm", "Sequoia", "Washington", "Jefferson", "Lincoln", "Madison", "Monroe", "Jackson",
    "Adams", "Franklin", "Hamilton", "Harrison", "Taylor", "Polk", "Fillmore", "Pierce",
    "Buchanan", "Garfield", "Cleveland", "Hayes", "Tyler", "Bush", "Sutter", "Post", "Geary",
    "Ellis", "Eddy", "Turk", "Fulton", "Grove", "Hyde", "Larkin", "Powell", "Stockton", "Kearny",
    "Dolores", "Valencia", "Guerrero", "Church", "Sanchez", "Noe", "Castro", "Diamond", "Vallejo",
    "Green", "Union", "Filbert", "Lombard", "Bay", "Clay", "Lake", "Irving", "Judah", "Kirkham",
)  # fmt: skip
STREET_SUFFIXES = ("St", "Way", "Ter", "Ln")
DIAGONAL_NAMES = (
    "Market St",
    "Columbus Ave",
    "Grand Ave",
    "Division St",
    "Central Blvd",
    "Broadway",
)
CUL_DE_SAC_SUFFIX = "Ct"

TWO_WAY, FORWARD, BACKWARD = 0, 1, -1


@dataclass
class _Street:
    """A straight street; `stops` are (position along it, node) for each intersection on it."""

    name: str
    highway: str
    way_id: int
    direction: int
    stops: list[tuple[float, int]] = field(default_factory=list)

    @property
    def is_quiet(self) -> bool:
        """Parks, gaps and courts only touch these, so traffic can still get everywhere."""
        return self.highway == "residential" and self.direction == TWO_WAY


Segment = tuple[int, int, _Street]


def synthetic_city(
    center_lat: float, center_lon: float, radius_mi: float, seed: int, city: str
) -> nx.MultiDiGraph:
    """An osmnx-compatible drive network covering `radius_mi` around the centre; deterministic."""
    builder = _CityBuilder(np.random.default_rng(seed), radius_mi * METRES_PER_MILE)
    builder.add_grid()
    builder.add_diagonals()
    builder.add_parks()
    builder.add_cul_de_sacs()
    return _to_graph(builder, builder.segments(), center_lat, center_lon, city)


class _CityBuilder:
    """Lays out streets and intersections in local metres east (x) and north (y) of the centre."""

    def __init__(self, rng: np.random.Generator, radius_m: float) -> None:
        self.rng = rng
        self.radius_m = radius_m
        self.xs: list[float] = []
        self.ys: list[float] = []
        self.streets: list[_Street] = []
        self.street_ys = self._line_positions(STREET_SPACING_M)
        self.avenue_xs = self._line_positions(AVENUE_SPACING_M)
        self.named_streets: list[_Street] = []
        self.avenues: list[_Street] = []
        self.diagonal_angles: list[float] = []
        # (street index, avenue index) -> node, for intersections inside the disc
        self.grid: dict[tuple[int, int], int] = {}
        self.on_diagonal: set[int] = set()
        self.park: set[int] = set()
        self.cul_de_sacs: list[Segment] = []

    def add_node(self, x: float, y: float) -> int:
        self.xs.append(x)
        self.ys.append(y)
        return len(self.xs) - 1

    def add_street(self, name: str, highway: str, direction: int = TWO_WAY) -> _Street:
        street = _Street(name, highway, way_id=len(self.streets) + 1, direction=direction)
        self.streets.append(street)
        return street

    def inside(self, x: float, y: float) -> bool:
        return math.hypot(x, y) <= self.radius_m

    def _line_positions(self, spacing_m: tuple[float, float]) -> np.ndarray:
        """Sorted offsets of parallel lines, one through the centre, randomly spaced to the rim."""
        per_side = int(self.radius_m / spacing_m[0]) + 1
        ahead = np.cumsum(self.rng.uniform(*spacing_m, per_side))
        behind = -np.cumsum(self.rng.uniform(*spacing_m, per_side))
        positions = np.concatenate([behind[::-1], [0.0], ahead])
        return positions[np.abs(positions) <= self.radius_m]

    def add_grid(self) -> None:
        """Named streets, numbered avenues, and a (jittered) intersection wherever they meet."""
        base_names = self.rng.permutation(STREET_BASE_NAMES)
        street_names = [_street_name(i, base_names) for i in range(len(self.street_ys))]
        avenue_names = [f"{_ordinal(j + 1)} Ave" for j in range(len(self.avenue_xs))]
        self.named_streets = self._add_parallel_streets(
            street_names, self.street_ys, arterial_every=(10, 5)
        )
        self.avenues = self._add_parallel_streets(
            avenue_names, self.avenue_xs, arterial_every=(8, 4)
        )
        for i, y in enumerate(self.street_ys):
            for j, x in enumerate(self.avenue_xs):
                if not self.inside(x, y):
                    continue
                jitter_x, jitter_y = self.rng.uniform(-NODE_JITTER_M, NODE_JITTER_M, 2)
                node = self.add_node(x + jitter_x, y + jitter_y)
                self.grid[i, j] = node
                self.named_streets[i].stops.append((x, node))
                self.avenues[j].stops.append((y, node))

    def _add_parallel_streets(
        self, names: list[str], positions: np.ndarray, arterial_every: tuple[int, int]
    ) -> list[_Street]:
        """Every `arterial_every[0]`-th line from the centre is secondary, every [1]-th tertiary."""
        secondary_every, tertiary_every = arterial_every
        one_way_phase = int(self.rng.integers(ONE_WAY_PAIR_EVERY))
        centre = int(np.argmin(np.abs(positions)))
        streets = []
        residential_seen = 0
        for index, name in enumerate(names):
            offset = abs(index - centre)
            if offset % secondary_every == 0:
                streets.append(self.add_street(name, "secondary"))
            elif offset % tertiary_every == 0:
                streets.append(self.add_street(name, "tertiary"))
            else:
                direction = _one_way_direction(residential_seen, one_way_phase)
                streets.append(self.add_street(name, "residential", direction))
                residential_seen += 1
        return streets

    def add_diagonals(self) -> None:
        """Two-way arterials through downtown, cut into the grid where they cross it."""
        sector = 180.0 / DIAGONAL_COUNT
        names = self.rng.permutation(DIAGONAL_NAMES)[:DIAGONAL_COUNT]
        for k, name in enumerate(names):
            margin = DIAGONAL_SECTOR_MARGIN_DEG
            angle = math.radians(k * sector + self.rng.uniform(margin, sector - margin))
            self.diagonal_angles.append(angle)
            diagonal = self.add_street(str(name), "primary")
            dx, dy = math.cos(angle), math.sin(angle)
            # `t` is the distance along the diagonal from downtown.
            for avenue, x in zip(self.avenues, self.avenue_xs, strict=True):
                t = x / dx
                self._cross(diagonal, t, avenue, along_grid_line=t * dy, point=(x, t * dy))
            for street, y in zip(self.named_streets, self.street_ys, strict=True):
                t = y / dy
                self._cross(diagonal, t, street, along_grid_line=t * dx, point=(t * dx, y))

    def _cross(
        self,
        diagonal: _Street,
        t: float,
        grid_line: _Street,
        along_grid_line: float,
        point: tuple[float, float],
    ) -> None:
        x, y = point
        if not self.inside(x, y):
            return
        i = int(np.argmin(np.abs(self.street_ys - y)))
        j = int(np.argmin(np.abs(self.avenue_xs - x)))
        near_intersection = (
            abs(self.street_ys[i] - y) < SNAP_TO_INTERSECTION_M
            and abs(self.avenue_xs[j] - x) < SNAP_TO_INTERSECTION_M
        )
        if near_intersection and (i, j) in self.grid:
            node = self.grid[i, j]
            self.on_diagonal.add(node)
        else:
            node = self.add_node(x, y)
            grid_line.stops.append((along_grid_line, node))
        diagonal.stops.append((t, node))

    def add_parks(self) -> None:
        """Parks swallow small rectangles of intersections of quiet streets."""
        grid_keys = sorted(self.grid)
        for _ in range(len(self.grid) // INTERSECTIONS_PER_PARK):
            i, j = grid_keys[int(self.rng.integers(len(grid_keys)))]
            rows, columns = self.rng.integers(1, 3, 2)
            corners = [(i + di, j + dj) for di in range(rows) for dj in range(columns)]
            if all(self._parkable(*corner) for corner in corners):
                self.park.update(self.grid[corner] for corner in corners)

    def _parkable(self, i: int, j: int) -> bool:
        return (
            (i, j) in self.grid
            and self.grid[i, j] not in self.on_diagonal
            and self.named_streets[i].is_quiet
            and self.avenues[j].is_quiet
        )

    def _built_up(self, i: int, j: int) -> bool:
        return (i, j) in self.grid and self.grid[i, j] not in self.park

    def add_cul_de_sacs(self) -> None:
        """Short dead-end courts from the middle of an avenue block into the long block east of it."""
        used_blocks: set[tuple[int, int]] = set()
        for _ in range(len(self.grid) // INTERSECTIONS_PER_CUL_DE_SAC):
            i = int(self.rng.integers(len(self.street_ys) - 1))
            j = int(self.rng.integers(len(self.avenue_xs) - 1))
            depth = self.rng.uniform(0.3, 0.45) * (self.avenue_xs[j + 1] - self.avenue_xs[j])
            name = f"{self.rng.choice(STREET_BASE_NAMES)} {CUL_DE_SAC_SUFFIX}"
            x, y = self.avenue_xs[j], (self.street_ys[i] + self.street_ys[i + 1]) / 2.0
            fits = (
                (i, j) not in used_blocks
                and self.avenues[j].is_quiet
                and self._built_up(i, j)
                and self._built_up(i + 1, j)
                and self.inside(x + depth, y)
                and not any(
                    _crosses_line_through_centre(angle, (x, y), (x + depth, y))
                    for angle in self.diagonal_angles
                )
            )
            if not fits:
                continue
            used_blocks.add((i, j))
            junction = self.add_node(x, y)
            self.avenues[j].stops.append((y, junction))
            court = self.add_street(name, "residential")
            self.cul_de_sacs.append((junction, self.add_node(x + depth, y), court))

    def segments(self) -> list[Segment]:
        """Road between consecutive intersections of each street, minus parks and random gaps."""
        segments = []
        for street in self.streets:
            ordered = [node for _, node in sorted(street.stops)]
            segments += [
                (a, b, street) for a, b in zip(ordered, ordered[1:], strict=False) if a != b
            ]
        gaps = self.rng.random(len(segments)) < REMOVED_SEGMENT_SHARE
        kept = [
            (a, b, street)
            for (a, b, street), gap in zip(segments, gaps, strict=True)
            if a not in self.park and b not in self.park and not (gap and street.is_quiet)
        ]
        return kept + self.cul_de_sacs


def _one_way_direction(residential_index: int, phase: int) -> int:
    pair = residential_index // 2
    if pair % ONE_WAY_PAIR_EVERY != phase:
        return TWO_WAY
    return FORWARD if residential_index % 2 == 0 else BACKWARD


def _street_name(index: int, base_names: np.ndarray) -> str:
    """Oak St, Pine St, ...; a city with more streets than names goes on with Oak Way, ..."""
    round_, base = divmod(index, len(base_names))
    return f"{base_names[base]} {STREET_SUFFIXES[round_ % len(STREET_SUFFIXES)]}"


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _crosses_line_through_centre(
    angle: float, a: tuple[float, float], b: tuple[float, float]
) -> bool:
    dx, dy = math.cos(angle), math.sin(angle)
    side_a = dx * a[1] - dy * a[0]
    side_b = dx * b[1] - dy * b[0]
    return side_a * side_b <= 0.0


def _to_graph(
    builder: _CityBuilder, segments: list[Segment], center_lat: float, center_lon: float, city: str
) -> nx.MultiDiGraph:
    lat = center_lat + np.asarray(builder.ys) / METRES_PER_DEGREE_LAT
    lon = center_lon + np.asarray(builder.xs) / metres_per_degree_lon(center_lat)
    starts = np.array([a for a, _, _ in segments], dtype=np.int64)
    ends = np.array([b for _, b, _ in segments], dtype=np.int64)
    lengths = haversine_m(lat[starts], lon[starts], lat[ends], lon[ends]).tolist()

    neighbours: dict[int, set[int]] = {}
    edges = []
    for (a, b, street), length in zip(segments, lengths, strict=True):
        neighbours.setdefault(a, set()).add(b)
        neighbours.setdefault(b, set()).add(a)
        attrs = {
            "osmid": street.way_id,
            "name": street.name,
            "highway": street.highway,
            "length": length,
        }
        if street.direction == TWO_WAY:
            edges.append((a, b, {**attrs, "oneway": False, "reversed": False}))
            edges.append((b, a, {**attrs, "oneway": False, "reversed": True}))
        else:
            u, v = (a, b) if street.direction == FORWARD else (b, a)
            edges.append((u, v, {**attrs, "oneway": True, "reversed": False}))

    G = nx.MultiDiGraph(crs="epsg:4326", name=f"{city} (synthetic)", synthetic=True)
    # Node ids start at 1 as in OpenStreetMap; intersections left without roads (parks) are dropped.
    G.add_nodes_from(
        (
            node + 1,
            {"y": float(lat[node]), "x": float(lon[node]), "street_count": len(neighbours[node])},
        )
        for node in sorted(neighbours)
    )
    G.add_edges_from((u + 1, v + 1, 0, attrs) for u, v, attrs in edges)
    return G
