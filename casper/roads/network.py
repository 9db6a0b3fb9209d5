"""Finding a drive network for a kitchen's location: a user's file, the cache, OpenStreetMap or a
generated city, in that order. Only an explicit request ever touches the network.

osmnx takes seconds to import (geopandas, scikit-learn), so it is imported only on the paths that
read or download OpenStreetMap data; the synthetic fallback and the route tables never need it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol

import networkx as nx

from casper.roads.geo import METRES_PER_MILE
from casper.roads.synthetic import synthetic_city

# osmnx's "drive" filter, which it applies to Overpass downloads but not to local OSM files.
NOT_DRIVABLE_HIGHWAYS = frozenset({
    "abandoned", "bridleway", "bus_guideway", "construction", "corridor", "cycleway", "elevator",
    "escalator", "footway", "no", "path", "pedestrian", "planned", "platform", "proposed",
    "raceway", "razed", "rest_area", "service", "services", "steps", "track",
})  # fmt: skip
NOT_DRIVABLE_SERVICES = frozenset(
    {"alley", "driveway", "emergency_access", "parking", "parking_aisle", "private"}
)
OSM_XML_SUFFIXES = (".osm", ".osm.bz2", ".xml")


class RoadsError(RuntimeError):
    """A road network could not be read or downloaded; the message names what and why."""


class RoadLocation(Protocol):
    """What the roads need to know about a kitchen's location (a config object provides it)."""

    @property
    def location_name(self) -> str: ...
    @property
    def kitchen_lat(self) -> float: ...
    @property
    def kitchen_lon(self) -> float: ...
    @property
    def radius_mi(self) -> float: ...
    @property
    def random_seed(self) -> int: ...
    @property
    def city(self) -> str: ...
    @property
    def road_network(self) -> Path | None: ...


def cache_path(location: RoadLocation, roads_dir: Path) -> Path:
    return roads_dir / f"{location.location_name}.graphml"


def load_network(
    location: RoadLocation,
    roads_dir: Path,
    *,
    allow_download: bool = False,
    notify: Callable[[str], None] | None = None,
) -> nx.MultiDiGraph:
    """The location's own file, else the cached download, else (if allowed) a fresh download,
    else a generated city, announced through `notify`."""
    if location.road_network is not None:
        return _read_user_file(Path(location.road_network))
    cached = cache_path(location, roads_dir)
    if cached.exists():
        return _read_graphml(cached)
    if allow_download:
        return _download(location, cached)
    if notify is not None:
        notify(
            f"{location.location_name}: using a generated street network (synthetic); "
            f"run `casper roads fetch {location.location_name}` for real OpenStreetMap roads"
        )
    return synthetic_city(
        location.kitchen_lat,
        location.kitchen_lon,
        location.radius_mi,
        location.random_seed,
        location.city,
    )


def fetch_network(location: RoadLocation, roads_dir: Path) -> Path:
    """Download the location's drive network from OpenStreetMap into the cache, replacing any."""
    cached = cache_path(location, roads_dir)
    _download(location, cached)
    return cached


def _read_user_file(path: Path) -> nx.MultiDiGraph:
    if path.suffix == ".graphml":
        return _read_graphml(path)
    if path.name.endswith(OSM_XML_SUFFIXES):
        return _read_osm_xml(path)
    raise RoadsError(f"{path}: unsupported road network file; use .graphml, .osm, .osm.bz2 or .xml")


def _read_graphml(path: Path) -> nx.MultiDiGraph:
    import osmnx as ox

    try:
        return ox.load_graphml(path)
    except Exception as exc:
        raise RoadsError(f"cannot read road network {path}: {_one_line(exc)}") from exc


def _read_osm_xml(path: Path) -> nx.MultiDiGraph:
    """Load an OpenStreetMap extract with the drive network's filter applied before simplifying,
    so footpaths neither become roads nor get merged into them."""
    import osmnx as ox

    try:
        G = ox.graph_from_xml(path, simplify=False, retain_all=True)
    except Exception as exc:
        raise RoadsError(f"cannot read road network {path}: {_one_line(exc)}") from exc
    G.remove_edges_from(
        [(u, v, k) for u, v, k, data in G.edges(keys=True, data=True) if not _drivable(data)]
    )
    if G.number_of_edges() == 0:
        raise RoadsError(f"{path}: no drivable roads in this file")
    G = ox.simplify_graph(ox.truncate.largest_component(G))
    # Downloaded networks carry street counts; give local files the same shape.
    nx.set_node_attributes(G, ox.stats.count_streets_per_node(G), name="street_count")
    return G


def _drivable(edge: dict) -> bool:
    return (
        edge.get("highway") not in NOT_DRIVABLE_HIGHWAYS
        and edge.get("area") != "yes"
        and edge.get("access") != "private"
        and edge.get("service") not in NOT_DRIVABLE_SERVICES
    )


def _download(location: RoadLocation, destination: Path) -> nx.MultiDiGraph:
    """Fetch from OpenStreetMap (Overpass) and cache as GraphML; the cache is replaced atomically."""
    import osmnx as ox

    destination.parent.mkdir(parents=True, exist_ok=True)
    try:
        with _http_cache_in(destination.parent / "osm-http-cache"):
            G = ox.graph_from_point(
                (location.kitchen_lat, location.kitchen_lon),
                dist=location.radius_mi * METRES_PER_MILE,
                network_type="drive",
            )
    except Exception as exc:
        raise RoadsError(
            f"could not download roads for {location.location_name} from OpenStreetMap: {_one_line(exc)}"
        ) from exc
    partial = destination.with_name(destination.name + ".partial")
    ox.save_graphml(G, partial)
    partial.replace(destination)
    return G


@contextmanager
def _http_cache_in(folder: Path) -> Iterator[None]:
    """Keep osmnx's Overpass response cache with our roads rather than in the working directory."""
    import osmnx as ox

    previous = ox.settings.cache_folder
    ox.settings.cache_folder = folder
    try:
        yield
    finally:
        ox.settings.cache_folder = previous


def _one_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__
