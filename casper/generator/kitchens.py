"""Building each location's Kitchen: its road routes (cached under the home) and its menu."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from casper.catalog import load_catalog
from casper.config import LocationConfig
from casper.errors import CasperError
from casper.generator.baskets import MenuArrays
from casper.generator.demand import US_PER_DAY
from casper.generator.simulation import Kitchen
from casper.roads.table import RouteTable

# Bump when the synthetic network or the route table changes shape, so caches rebuild.
ROUTES_VERSION = 1


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


def route_table(
    site: Site, roads_dir: Path, notify: Callable[[str], None] | None = None
) -> RouteTable:
    """The kitchen's routes, computed once per network and reused from the cache after that."""
    digest = hashlib.sha256(
        json.dumps([ROUTES_VERSION, _source_fingerprint(site, roads_dir)]).encode()
    ).hexdigest()[:16]
    cached = roads_dir / f"{site.location_name}.routes-{digest}.npz"
    if cached.exists():
        try:
            return RouteTable.load(cached)
        except (OSError, ValueError, KeyError):
            cached.unlink(missing_ok=True)  # a damaged cache is rebuilt, not trusted
    from casper.roads import build_route_table, load_network  # networkx, scipy: only to build

    graph = load_network(site, roads_dir, allow_download=False, notify=notify)
    table = build_route_table(graph, site.kitchen_lat, site.kitchen_lon)
    roads_dir.mkdir(parents=True, exist_ok=True)
    for stale in roads_dir.glob(f"{site.location_name}.routes-*.npz"):
        stale.unlink(missing_ok=True)
    table.save(cached)
    return table


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
        kitchens.append(
            Kitchen(
                config=config,
                seed=config.random_seed,
                sim_start_us=sim_start_us,
                menu=menu,
                routes=route_table(Site.of(config), roads_dir, notify),
            )
        )
    return kitchens
