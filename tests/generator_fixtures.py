"""Shared helpers for the order-flow generator tests (test_generator_properties / _statistics).

One San Francisco kitchen (synthetic road network, route table cached under a session temp dir) is
built once per test session; variants of its config reuse its route table and menu, so a test can vary
settings cheaply. `orders_of` regroups a simulated day's events by order, bodies parsed, for checks.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import math
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from casper.catalog import load_catalog
from casper.config import LocationConfig, resolve_locations
from casper.generator.kitchens import Site, build_kitchens
from casper.generator.simulation import Kitchen, to_us
from casper.roads import load_network

# A fixed "now" for the session kitchen: mid-afternoon, so the first day of its window is partial.
NOW = dt.datetime(2025, 1, 15, 14, 37, 11, 123456)
NOW_US = to_us(NOW)
US_PER_MINUTE = 60_000_000
US_PER_DAY = 86_400_000_000
EARTH_RADIUS_M = 6_371_009.0  # the sphere the roads package (and osmnx) measures on
METRES_PER_MILE = 1609.344

# SPEC.md section 1: the lifecycle in sequence order, and each event type's body keys.
NON_PING_SEQUENCE = {
    "order_created": 0,
    "gk_started": 1,
    "gk_finished": 2,
    "gk_ready": 3,
    "driver_arrived": 4,
    "driver_picked_up": 5,
}
BODY_KEYS = {
    "order_created": ["customer_lat", "customer_lon", "customer_addr", "items"],
    "gk_started": [],
    "gk_finished": [],
    "gk_ready": [],
    "driver_arrived": [],
    "driver_picked_up": ["route_points", "eta_mins"],
    "driver_ping": ["progress_pct", "loc_lat", "loc_lon"],
    "delivered": ["delivered_lat", "delivered_lon"],
}
TOP_LEVEL = ["event_id", "event_type", "ts", "gk_id", "location", "order_id", "sequence", "body"]
ITEM_KEYS = ["id", "category_id", "menu_id", "brand_id", "name", "price", "qty"]


@dataclass(frozen=True)
class Base:
    """The session's kitchen and what the tests need to know about its roads."""

    kitchen: Kitchen
    kitchen_node_latlon: tuple[float, float]  # from the road graph itself, not the route table
    roads_dir: Path


@functools.cache
def base(roads_dir: Path) -> Base:
    """San Francisco's kitchen, built once per session (routes cached under `roads_dir`)."""
    (config,) = resolve_locations("sanfrancisco")
    (kitchen,) = build_kitchens((config,), NOW_US, roads_dir)
    graph = load_network(Site.of(config), roads_dir, allow_download=False)
    node = graph.nodes[kitchen.routes.kitchen_node]
    return Base(kitchen, (float(node["y"]), float(node["x"])), roads_dir)


def variant(
    kitchen: Kitchen, *, seed: int | None = None, sim_start_us: int | None = None, **update
) -> Kitchen:
    """The kitchen with some config keys replaced; same menu and route table (no network rebuild)."""
    config = kitchen.config
    if update:
        # validated, so nested settings given as dicts become models
        config = LocationConfig.model_validate({**config.model_dump(), **update})
    return Kitchen(
        config=config,
        seed=kitchen.seed if seed is None else seed,
        sim_start_us=kitchen.sim_start_us if sim_start_us is None else sim_start_us,
        menu=kitchen.menu,
        routes=kitchen.routes,
    )


@functools.cache
def catalog_items() -> dict[int, dict]:
    """item_id -> {id, category_id, menu_id, brand_id, name, price}, straight from the seed CSVs."""
    items = load_catalog().items
    return {
        row["item_id"]: {
            "id": row["item_id"],
            "category_id": row["category_id"],
            "menu_id": row["menu_id"],
            "brand_id": row["brand_id"],
            "name": row["name"],
            "price": row["price"],
        }
        for row in items.iter_rows(named=True)
    }


@dataclass
class Order:
    order_id: str
    events: list[dict] = field(default_factory=list)  # rows in sequence order, "body" parsed

    def one(self, event_type: str) -> dict:
        (event,) = [e for e in self.events if e["event_type"] == event_type]
        return event

    @property
    def pings(self) -> list[dict]:
        return [e for e in self.events if e["event_type"] == "driver_ping"]


def orders_of(events: pl.DataFrame) -> dict[str, Order]:
    """A day's events grouped by order, each order's events sorted by sequence, bodies parsed."""
    grouped: dict[str, Order] = defaultdict(lambda: Order(""))
    for row in events.iter_rows(named=True):
        order = grouped[row["order_id"]]
        order.order_id = row["order_id"]
        order.events.append({**row, "body": json.loads(row["body"])})
    for order in grouped.values():
        order.events.sort(key=lambda e: e["sequence"])
    return dict(grouped)


def created_minutes(events: pl.DataFrame) -> np.ndarray:
    """Minute of the day (UTC) at which each order of a frame was created."""
    created = events.filter(pl.col("event_type") == "order_created")["ts_us"].to_numpy()
    return (created % US_PER_DAY) // US_PER_MINUTE


def haversine_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    lat1, lon1, lat2, lon2 = map(math.radians, (a[0], a[1], b[0], b[1]))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(h))


def path_length_m(points: list[list[float]]) -> float:
    return sum(haversine_m(points[i], points[i + 1]) for i in range(len(points) - 1))


def window_days(kitchen: Kitchen) -> list[dt.date]:
    """Calendar days that hold some of the kitchen's simulation window (first and last partial)."""
    first = (dt.datetime(1970, 1, 1) + dt.timedelta(microseconds=kitchen.sim_start_us)).date()
    last = (dt.datetime(1970, 1, 1) + dt.timedelta(microseconds=kitchen.sim_end_us - 1)).date()
    return [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]
