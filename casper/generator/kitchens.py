"""Building each location's Kitchen: its road routes and their JSON text (cached under the home)
and its menu."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from casper.catalog import load_catalog
from casper.config import LocationConfig
from casper.errors import CasperError
from casper.generator.baskets import MenuArrays
from casper.generator.demand import US_PER_DAY
from casper.generator.simulation import Kitchen, RouteTexts
from casper.roads.table import RouteTable

# Bump when the synthetic network or the route table changes shape, so caches rebuild.
ROUTES_VERSION = 1
# Bump when the route texts change (casper.generator.simulation.RouteTexts).
ROUTE_TEXTS_VERSION = 1


@dataclass(frozen=True)
class Site:
    """What the roads package needs to know about a location."""

    location_name: str
    kitchen_lat: float
    kitchen_lon: float
    radius_mi: float
    random_seed: int
    city: str
    road_network: Path | None

    @classmethod
    def of(cls, config: LocationConfig) -> Site:
        kitchen = config.kitchen
        if kitchen is None:
            raise CasperError(
                f"{config.location_name}: no kitchen coordinates for {config.gk_location!r}; "
                f"add kitchen_lat and kitchen_lon to its config"
            )
        return cls(
            location_name=config.location_name,
            kitchen_lat=kitchen[0],
            kitchen_lon=kitchen[1],
            radius_mi=config.radius_mi,
            random_seed=config.random_seed,
            city=config.city,
            road_network=config.road_network,
        )


def _source_fingerprint(site: Site, roads_dir: Path) -> str:
    """Identifies the network load_network would pick, without loading it."""
    for path in (site.road_network, roads_dir / f"{site.location_name}.graphml"):
        if path is not None and Path(path).exists():
            stat = Path(path).stat()
            return f"file:{Path(path).resolve()}:{stat.st_size}:{stat.st_mtime_ns}"
    return f"synthetic:{site.kitchen_lat}:{site.kitchen_lon}:{site.radius_mi}:{site.random_seed}:{site.city}"


def _route_cache(site: Site, roads_dir: Path) -> Path:
    digest = hashlib.sha256(
        json.dumps([ROUTES_VERSION, _source_fingerprint(site, roads_dir)]).encode()
    ).hexdigest()[:16]
    return roads_dir / f"{site.location_name}.routes-{digest}.npz"


def route_table(
    site: Site, roads_dir: Path, notify: Callable[[str], None] | None = None
) -> RouteTable:
    """The kitchen's routes, computed once per network and reused from the cache after that."""
    cached = _route_cache(site, roads_dir)
    if cached.exists():
        try:
            return RouteTable.load(cached)
        except (OSError, ValueError, KeyError):
            cached.unlink(missing_ok=True)  # a damaged cache is rebuilt, not trusted
    from casper.roads import build_route_table, load_network  # networkx, scipy: only to build

    graph = load_network(site, roads_dir, allow_download=False, notify=notify)
    table = build_route_table(graph, site.kitchen_lat, site.kitchen_lon)
    roads_dir.mkdir(parents=True, exist_ok=True)
    for stale in roads_dir.glob(f"{site.location_name}.routes-*"):
        stale.unlink(missing_ok=True)  # the table and the texts of another network
    table.save(cached)
    return table


def route_texts(site: Site, table: RouteTable, roads_dir: Path) -> RouteTexts:
    """The route table as JSON text (RouteTexts), cached beside the table: writing every route
    point's coordinates costs more than a worker process's whole start otherwise."""
    base = _route_cache(site, roads_dir).with_suffix("")
    points = base.with_name(f"{base.name}.text-v{ROUTE_TEXTS_VERSION}.points.arrow")
    routes = base.with_name(f"{base.name}.text-v{ROUTE_TEXTS_VERSION}.routes.arrow")
    try:
        coordinates, per_route = pl.read_ipc(points), pl.read_ipc(routes)
        if coordinates.height == table.route_lat.size and per_route.height == table.nodes.size:
            return RouteTexts(
                route=per_route["route"], lat=coordinates["lat"], lon=coordinates["lon"]
            )
    except (OSError, pl.exceptions.PolarsError, KeyError):
        pass  # missing or damaged: written again
    texts = RouteTexts.of(table)
    with contextlib.suppress(OSError):  # a read-only home still generates, without the cache
        for path, frame in (
            (points, pl.DataFrame({"lat": texts.lat, "lon": texts.lon})),
            (routes, pl.DataFrame({"route": texts.route})),
        ):
            temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            frame.write_ipc(temporary)
            os.replace(temporary, path)
    return texts


def build_kitchens(
    configs: tuple[LocationConfig, ...],
    now_us: int,
    roads_dir: Path,
    notify: Callable[[str], None] | None = None,
) -> list[Kitchen]:
    menu = MenuArrays.from_catalog(load_catalog())
    kitchens = []
    for config in configs:
        sim_start_us = now_us - config.start_days_ago * US_PER_DAY
        site = Site.of(config)
        table = route_table(site, roads_dir, notify)
        kitchens.append(
            Kitchen(
                config=config,
                seed=config.random_seed,
                sim_start_us=sim_start_us,
                menu=menu,
                routes=table,
                given_route_texts=route_texts(site, table, roads_dir),
            )
        )
    return kitchens
