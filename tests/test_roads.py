"""Road networks: the generated city, single-source route tables, and where networks come from.

Everything here is offline: downloads are faked by monkeypatching `osmnx.graph_from_point`.
"""

from __future__ import annotations

import bz2
from dataclasses import dataclass
from pathlib import Path

import networkx as nx
import numpy as np
import osmnx as ox
import pytest
from shapely.geometry import LineString

from casper.roads import (
    RoadsError,
    RouteTable,
    build_route_table,
    fetch_network,
    load_network,
    synthetic_city,
)

LAT, LON = 37.7749, -122.4194


@dataclass(frozen=True)
class Location:
    location_name: str = "sf"
    kitchen_lat: float = LAT
    kitchen_lon: float = LON
    radius_mi: float = 0.5
    random_seed: int = 7
    city: str = "San Francisco"
    road_network: Path | None = None


@pytest.fixture(scope="module")
def city() -> nx.MultiDiGraph:
    return synthetic_city(LAT, LON, 1.5, 42, "San Francisco")


@pytest.fixture(scope="module")
def table(city: nx.MultiDiGraph) -> RouteTable:
    return build_route_table(city, LAT, LON)


def _degrees_off_grid(G: nx.MultiDiGraph) -> np.ndarray:
    """For each edge, how far its bearing is from the nearest grid axis (N, E, S, W)."""
    u, v = zip(*((u, v) for u, v, _ in G.edges), strict=True)
    bearings = ox.bearing.calculate_bearing(
        np.array([G.nodes[n]["y"] for n in u]),
        np.array([G.nodes[n]["x"] for n in u]),
        np.array([G.nodes[n]["y"] for n in v]),
        np.array([G.nodes[n]["x"] for n in v]),
    )
    within_quadrant = bearings % 90.0
    return np.minimum(within_quadrant, 90.0 - within_quadrant)


# --- the generated city -------------------------------------------------------------------------


def test_synthetic_city_is_deterministic(city: nx.MultiDiGraph) -> None:
    again = synthetic_city(LAT, LON, 1.5, 42, "San Francisco")
    assert nx.utils.graphs_equal(city, again)
    assert list(city.edges(keys=True, data=True)) == list(again.edges(keys=True, data=True))
    assert list(city.nodes(data=True)) == list(again.nodes(data=True))
    assert not nx.utils.graphs_equal(city, synthetic_city(LAT, LON, 1.5, 43, "San Francisco"))


def test_synthetic_city_has_osmnx_attributes(city: nx.MultiDiGraph) -> None:
    assert city.graph["crs"] == "epsg:4326"
    assert city.graph["synthetic"] is True
    assert "San Francisco" in city.graph["name"]
    for _, node in city.nodes(data=True):
        assert abs(node["y"] - LAT) < 0.05 and abs(node["x"] - LON) < 0.05
        assert node["street_count"] >= 1
    for _, _, edge in city.edges(data=True):
        assert isinstance(edge["osmid"], int)
        assert isinstance(edge["name"], str) and edge["name"]
        assert edge["highway"] in {"residential", "tertiary", "secondary", "primary"}
        assert isinstance(edge["oneway"], bool) and isinstance(edge["reversed"], bool)
        assert isinstance(edge["length"], float) and edge["length"] > 0
    nodes, edges = ox.convert.graph_to_gdfs(city)
    assert len(nodes) == len(city) and len(edges) == city.number_of_edges()


def test_synthetic_city_survives_graphml_round_trip(city: nx.MultiDiGraph, tmp_path: Path) -> None:
    path = tmp_path / "city.graphml"
    ox.io.save_graphml(city, path)
    loaded = ox.io.load_graphml(path)
    assert list(loaded.nodes(data=True)) == list(city.nodes(data=True))
    assert list(loaded.edges(keys=True, data=True)) == list(city.edges(keys=True, data=True))


def test_synthetic_city_looks_like_a_us_grid(city: nx.MultiDiGraph) -> None:
    assert np.mean(_degrees_off_grid(city) < 5.0) > 0.9, "most streets follow the grid"
    edges = [d for *_, d in city.edges(data=True) if d["highway"] != "primary"]
    avenue_blocks = [d["length"] for d in edges if d["name"][0].isdigit()]
    street_blocks = [d["length"] for d in edges if d["name"].endswith(" St")]
    assert 80 <= np.median(avenue_blocks) <= 130, "short blocks between named streets"
    assert 130 <= np.median(street_blocks) <= 250, "long blocks between numbered avenues"

    names = {d["name"] for *_, d in city.edges(data=True)}
    assert {"1st Ave", "2nd Ave", "3rd Ave", "11th Ave", "21st Ave"} <= names
    assert any(name.endswith(" St") and not name[0].isdigit() for name in names)


def test_synthetic_city_is_not_a_perfect_lattice(city: nx.MultiDiGraph) -> None:
    one_way = [(u, v) for u, v, d in city.edges(data=True) if d["oneway"]]
    assert one_way and all(not city.has_edge(v, u) for u, v in one_way)
    one_way_share = len(one_way) / len({frozenset(e) for e in city.edges()})
    assert 0.05 < one_way_share < 0.35

    dead_ends = [n for n, count in city.nodes(data="street_count") if count == 1]
    assert dead_ends

    diagonal = _degrees_off_grid(city) > 12.0
    diagonal_names = {
        d["name"] for (*_, d), off in zip(city.edges(data=True), diagonal, strict=True) if off
    }
    assert diagonal.sum() > 20 and 2 <= len(diagonal_names) <= 6


def test_kitchen_reaches_most_of_the_city(city: nx.MultiDiGraph, table: RouteTable) -> None:
    kitchen = table.kitchen_node
    component = next(c for c in nx.strongly_connected_components(city) if kitchen in c)
    assert len(component) >= 0.9 * len(city)


def test_four_mile_city_has_city_size() -> None:
    # build speed is measured in benchmarks/bench_generate.py, not asserted here
    G = synthetic_city(40.7128, -74.0060, 4.0, 3, "New York")
    assert 3_000 <= len(G) <= 8_000


# --- route tables -------------------------------------------------------------------------------


def test_routes_match_networkx(city: nx.MultiDiGraph, table: RouteTable) -> None:
    sample = np.random.default_rng(0).choice(len(table.nodes), 25, replace=False)
    for i in sample.tolist():
        destination = int(table.nodes[i])
        path = nx.shortest_path(city, table.kitchen_node, destination, weight="length")
        expected = nx.shortest_path_length(city, table.kitchen_node, destination, weight="length")
        assert table.dist_m[i] == pytest.approx(expected, rel=1e-6)
        assert table.route_points(i) == [(city.nodes[n]["y"], city.nodes[n]["x"]) for n in path]


def test_route_table_covers_every_reachable_node(city: nx.MultiDiGraph, table: RouteTable) -> None:
    assert set(table.nodes.tolist()) == nx.descendants(city, table.kitchen_node)
    assert np.all(np.diff(table.dist_m) >= 0), "destinations come nearest first"
    assert table.nodes.dtype == np.int64 and table.route_offsets.dtype == np.int64
    assert len(table.route_offsets) == len(table.nodes) + 1
    assert table.route_offsets[-1] == len(table.route_lat) == len(table.route_lon)


def test_every_route_runs_from_kitchen_to_destination(
    city: nx.MultiDiGraph, table: RouteTable
) -> None:
    first, last = table.route_offsets[:-1], table.route_offsets[1:] - 1
    kitchen = city.nodes[table.kitchen_node]
    assert np.all(table.route_lat[first] == kitchen["y"])
    assert np.all(table.route_lon[first] == kitchen["x"])
    assert np.array_equal(table.route_lat[last], [city.nodes[n]["y"] for n in table.nodes.tolist()])
    assert np.array_equal(table.route_lon[last], [city.nodes[n]["x"] for n in table.nodes.tolist()])


def test_addresses_have_streets_and_hundred_blocks(table: RouteTable) -> None:
    assert table.street.dtype.kind == "U" and np.all(table.street != "")
    assert np.all(table.block >= 100) and np.all(table.block % 100 == 0)
    assert len(np.unique(table.block)) > 10


def _tiny_town() -> nx.MultiDiGraph:
    """Kitchen 1; 2 east of it, 3 east of 2, 4 north of 3, 5 north of 1, 6 west of 1.

    1 <-> 2 -> 3 (one-way)      1 -> 3 twice (260 m, 250 m: longer than via 2)
    3 -> 4 twice (90 m, 60 m)   4 -> 5 curved, two bends     5 -> 1 one-way, 6 -> 1 one-way
    """
    G = nx.MultiDiGraph(crs="epsg:4326")
    spot = {1: (37.0, -122.0), 2: (37.0, -121.999), 3: (37.0, -121.998), 4: (37.001, -121.998),
            5: (37.001, -122.0), 6: (37.0, -122.001)}  # fmt: skip
    for node, (lat, lon) in spot.items():
        G.add_node(node, y=lat, x=lon)
    G.add_edge(1, 2, length=100.0, name="Oak St")
    G.add_edge(2, 1, length=100.0, name="Oak St")
    G.add_edge(2, 3, length=100.0, name="One Way St")
    G.add_edge(1, 3, length=260.0, name="Long Way")
    G.add_edge(1, 3, length=250.0, name="Long Way")
    G.add_edge(3, 4, length=90.0, name=["Pine St", "Elm St"])
    G.add_edge(3, 4, length=60.0, name=["Pine St", "Elm St"])
    bends = [(-121.9985, 37.0012), (-121.9995, 37.0012)]
    G.add_edge(
        4, 5, length=100.0, geometry=LineString([(-121.998, 37.001), *bends, (-122.0, 37.001)])
    )
    G.add_edge(5, 1, length=100.0)
    G.add_edge(6, 1, length=100.0, name="Exit Rd")
    return G


def test_tiny_town_routes_are_hand_computed() -> None:
    G = _tiny_town()
    table = build_route_table(G, 37.00001, -122.00001)
    assert table.kitchen_node == 1
    assert table.nodes.tolist() == [2, 3, 4, 5], "6 only leads to the kitchen; 5 is behind one-ways"
    assert table.dist_m.tolist() == [100.0, 200.0, 260.0, 360.0]
    assert table.route_points(1) == [(37.0, -122.0), (37.0, -121.999), (37.0, -121.998)]
    assert table.route_points(3) == [
        (37.0, -122.0),
        (37.0, -121.999),
        (37.0, -121.998),
        (37.001, -121.998),
        (37.0012, -121.9985),
        (37.0012, -121.9995),
        (37.001, -122.0),
    ]
    # The first named edge at a node names it; merged osmnx edges have a list of names.
    assert table.street.tolist() == ["Oak St", "Long Way", "Pine St", "Unnamed Rd"]


def test_geometry_drawn_backwards_is_turned_around() -> None:
    G = _tiny_town()
    forwards = G.edges[4, 5, 0]["geometry"]
    G.edges[4, 5, 0]["geometry"] = LineString(forwards.coords[::-1])
    table = build_route_table(G, 37.0, -122.0)
    assert table.route_points(3)[-3:] == [
        (37.0012, -121.9985),
        (37.0012, -121.9995),
        (37.001, -122.0),
    ]


def test_route_table_save_and_load(table: RouteTable, tmp_path: Path) -> None:
    path = tmp_path / "sf.routes"
    table.save(path)
    loaded = RouteTable.load(path)
    assert loaded.kitchen_node == table.kitchen_node
    for name in ("nodes", "dist_m", "route_offsets", "route_lat", "route_lon", "street", "block"):
        assert np.array_equal(getattr(loaded, name), getattr(table, name)), name
        assert getattr(loaded, name).dtype == getattr(table, name).dtype
    assert loaded.route_points(5) == table.route_points(5)


# --- where a network comes from -----------------------------------------------------------------


@pytest.fixture
def no_downloads(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("osmnx.graph_from_point must not be called")

    monkeypatch.setattr(ox, "graph_from_point", refuse)


def _small_town(seed: int) -> nx.MultiDiGraph:
    return synthetic_city(LAT, LON, 0.3, seed, "Small Town")


def _intersections(G: nx.MultiDiGraph) -> list[tuple[int, float, float]]:
    return sorted((n, d["y"], d["x"]) for n, d in G.nodes(data=True))


def test_generated_city_when_nothing_else_and_notify_once(
    tmp_path: Path, no_downloads: None
) -> None:
    messages: list[str] = []
    G = load_network(Location(), tmp_path, notify=messages.append)
    assert G.graph["synthetic"] is True
    assert _intersections(G) == _intersections(synthetic_city(LAT, LON, 0.5, 7, "San Francisco"))
    assert len(messages) == 1
    assert "synthetic" in messages[0] and "casper roads fetch sf" in messages[0]


def test_cached_network_is_preferred_over_generated(tmp_path: Path, no_downloads: None) -> None:
    cached = _small_town(seed=1)
    ox.save_graphml(cached, tmp_path / "sf.graphml")
    messages: list[str] = []
    G = load_network(Location(), tmp_path, notify=messages.append)
    assert _intersections(G) == _intersections(cached)
    assert messages == []


def test_location_file_is_preferred_over_cache(tmp_path: Path, no_downloads: None) -> None:
    ox.save_graphml(_small_town(seed=1), tmp_path / "sf.graphml")
    own = _small_town(seed=2)
    own_path = tmp_path / "mine.graphml"
    ox.save_graphml(own, own_path)
    G = load_network(Location(road_network=own_path), tmp_path)
    assert _intersections(G) == _intersections(own)


OSM_XML = """<?xml version="1.0" encoding="UTF-8"?>
<osm version="0.6" generator="casper-tests">
  <node id="1" lat="37.7700" lon="-122.4200"/>
  <node id="2" lat="37.7700" lon="-122.4180"/>
  <node id="3" lat="37.7700" lon="-122.4160"/>
  <node id="4" lat="37.7710" lon="-122.4180"/>
  <node id="5" lat="37.7690" lon="-122.4180"/>
  <node id="6" lat="37.7720" lon="-122.4180"/>
  <node id="7" lat="37.7705" lon="-122.4150"/>
  <node id="8" lat="37.7715" lon="-122.4150"/>
  <node id="9" lat="37.7690" lon="-122.4160"/>
  <way id="10">
    <nd ref="1"/><nd ref="2"/><nd ref="3"/>
    <tag k="highway" v="residential"/><tag k="name" v="Oak St"/>
  </way>
  <way id="11">
    <nd ref="5"/><nd ref="2"/><nd ref="4"/>
    <tag k="highway" v="residential"/><tag k="name" v="1st Ave"/><tag k="oneway" v="yes"/>
  </way>
  <way id="12">
    <nd ref="4"/><nd ref="6"/>
    <tag k="highway" v="footway"/>
  </way>
  <way id="13">
    <nd ref="3"/><nd ref="7"/><nd ref="8"/>
    <tag k="highway" v="residential"/><tag k="name" v="Elm St"/>
  </way>
  <way id="14">
    <nd ref="3"/><nd ref="9"/>
    <tag k="highway" v="residential"/><tag k="name" v="2nd Ave"/>
  </way>
</osm>
"""


@pytest.mark.parametrize("suffix", [".osm", ".osm.bz2"])
def test_osm_xml_file_loads_as_a_drive_network(
    tmp_path: Path, suffix: str, no_downloads: None
) -> None:
    path = tmp_path / f"town{suffix}"
    data = OSM_XML.encode()
    path.write_bytes(bz2.compress(data) if suffix.endswith(".bz2") else data)
    G = load_network(Location(road_network=path), tmp_path)

    assert set(G.nodes) == {1, 2, 3, 4, 5, 8, 9}, (
        "the footway to 6 is gone; the bend 7 is simplified away"
    )
    assert G.has_edge(5, 2) and not G.has_edge(2, 5), "1st Ave is one-way"
    assert G.has_edge(1, 2) and G.has_edge(2, 1)
    assert {d["name"] for *_, d in G.edges(data=True)} == {"Oak St", "1st Ave", "2nd Ave", "Elm St"}

    table = build_route_table(G, 37.7700, -122.4200)
    to_8 = table.route_points(int(np.flatnonzero(table.nodes == 8)[0]))
    assert to_8 == [
        (37.77, -122.42),
        (37.77, -122.418),
        (37.77, -122.416),
        (37.7705, -122.415),
        (37.7715, -122.415),
    ]
    assert table.dist_m[table.nodes == 8][0] == pytest.approx(
        nx.shortest_path_length(G, 1, 8, weight="length"), rel=1e-9
    )


def test_download_only_when_allowed_and_then_cached(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    downloaded = _small_town(seed=5)
    calls: list[tuple[object, dict]] = []

    def fake_graph_from_point(center_point: object, **kwargs: object) -> nx.MultiDiGraph:
        calls.append((center_point, kwargs))
        assert Path(ox.settings.cache_folder) == tmp_path / "osm-http-cache"
        return downloaded

    monkeypatch.setattr(ox, "graph_from_point", fake_graph_from_point)
    G = load_network(Location(), tmp_path, allow_download=True)
    assert calls == [((LAT, LON), {"dist": 0.5 * 1609.344, "network_type": "drive"})]
    assert _intersections(G) == _intersections(downloaded)
    assert (tmp_path / "sf.graphml").exists()

    again = load_network(Location(), tmp_path, allow_download=True)
    assert len(calls) == 1, "the second load reads the cache"
    assert _intersections(again) == _intersections(downloaded)


def test_fetch_network_writes_the_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ox, "graph_from_point", lambda *args, **kwargs: _small_town(seed=5))
    path = fetch_network(Location(), tmp_path / "roads")
    assert path == tmp_path / "roads" / "sf.graphml"
    assert _intersections(ox.load_graphml(path)) == _intersections(_small_town(seed=5))


def test_failed_download_is_one_clear_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def offline(*args: object, **kwargs: object) -> None:
        raise ConnectionError(
            "Max retries exceeded with url: /api/interpreter\n(Caused by NameResolutionError)"
        )

    monkeypatch.setattr(ox, "graph_from_point", offline)
    cache_folder = ox.settings.cache_folder
    with pytest.raises(RoadsError) as raised:
        fetch_network(Location(), tmp_path)
    message = str(raised.value)
    assert "\n" not in message
    assert "sf" in message and "ConnectionError" in message and "Max retries" in message
    assert list(tmp_path.iterdir()) == [], "no partial cache left behind"
    assert ox.settings.cache_folder == cache_folder


@pytest.mark.parametrize("where", ["cache", "location"])
def test_corrupt_file_names_the_file(tmp_path: Path, where: str, no_downloads: None) -> None:
    path = tmp_path / ("sf.graphml" if where == "cache" else "broken.graphml")
    path.write_text("<graphml><this is not")
    location = Location(road_network=path if where == "location" else None)
    with pytest.raises(RoadsError, match="broken.graphml" if where == "location" else "sf.graphml"):
        load_network(location, tmp_path)


def test_unsupported_file_type_is_refused(tmp_path: Path) -> None:
    with pytest.raises(RoadsError, match="unsupported"):
        load_network(Location(road_network=tmp_path / "roads.shp"), tmp_path)
