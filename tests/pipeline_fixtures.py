"""Hand-made landing data for the pipeline tests: complete orders (SPEC.md section 1) and bad rows.

`OrderSpec` describes one order; `order_events` turns it into the reference's events (dicts whose `body`
is a JSON string). `land_ndjson` / `land_json_array` write them the way the generator does (hidden temp
name, then rename). `bad_lines` lists broken records with the quarantine reason each must get.
`bulk_landing` writes a large synthetic landing folder for benchmarks. `query` / `table` read the
warehouse back with a plain, short-lived DuckDB connection. `shared_sqlmesh_cache` points every
pipeline at one SQLMesh parse cache (tests/conftest.py: the session's, in its temporary folder).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import math
import os
import random
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

TS_FORMAT = "%Y-%m-%d %H:%M:%S.%f"

# A few catalog items: (id, category_id, menu_id, brand_id, name, price)
ITEMS: tuple[tuple[int, int, int, int, str, float], ...] = (
    (1, 1, 1, 1, "Classic Smash Burger", 11.50),
    (2, 1, 1, 1, "Double Bacon Stack", 14.75),
    (5, 2, 1, 1, "Fries", 4.25),
    (10, 5, 2, 2, "Margherita", 13.00),
    (11, 5, 2, 2, "Pepperoni", 14.50),
    (20, 9, 3, 3, "Tonkotsu Ramen", 15.25),
    (30, 13, 4, 4, "Al Pastor Taco", 3.75),
)

KITCHENS = {
    "sanfrancisco": ("gk-sanfrancisco", 37.79166, -122.39379),
    "chicago": ("gk-chicago", 41.88063, -87.63618),
}


def fmt_ts(moment: dt.datetime) -> str:
    return moment.strftime(TS_FORMAT)


def haversine_km(a: Sequence[float], b: Sequence[float]) -> float:
    """Great-circle distance in km (R = 6371.0088 km, the mean Earth radius), as the models use."""
    lat1, lon1, lat2, lon2 = map(math.radians, (a[0], a[1], b[0], b[1]))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * 6371.0088 * math.asin(math.sqrt(h))


def route_length_km(points: Sequence[Sequence[float]]) -> float:
    return sum(haversine_km(points[i], points[i + 1]) for i in range(len(points) - 1))


@dataclass
class OrderSpec:
    """One order. `items` are (item index into ITEMS, qty); minutes are offsets from `created`."""

    order_id: str
    created: dt.datetime
    location: str = "sanfrancisco"
    items: Sequence[tuple[int, int]] = ((0, 1),)
    customer: tuple[float, float] = (37.7750, -122.4183)
    route_hops: int = 5
    started_min: float = 2.0
    finished_min: float = 12.0
    ready_min: float = 14.0
    arrived_min: float = 13.0
    picked_up_min: float = 20.0
    delivered_min: float | None = 35.0  # None: still on its way (no delivered event)
    pings: int = 2
    body_nulls: dict[str, Sequence[str]] = field(default_factory=dict)  # event_type -> fields

    @property
    def gk_id(self) -> str:
        return KITCHENS[self.location][0]

    @property
    def kitchen(self) -> tuple[float, float]:
        return KITCHENS[self.location][1], KITCHENS[self.location][2]

    def route(self) -> list[list[float]]:
        """Kitchen to customer in `route_hops` segments, with a small dog-leg so it is not straight."""
        (k_lat, k_lon), (c_lat, c_lon) = self.kitchen, self.customer
        points = []
        for i in range(self.route_hops + 1):
            f = i / self.route_hops
            bend = 0.002 * math.sin(math.pi * f)
            points.append(
                [
                    round(k_lat + (c_lat - k_lat) * f + bend, 6),
                    round(k_lon + (c_lon - k_lon) * f, 6),
                ]
            )
        return points

    def revenue(self) -> float:
        return round(sum(ITEMS[i][5] * q for i, q in self.items), 2)

    def item_rows(self) -> int:
        return len(self.items)

    def brands(self) -> list[int]:
        return sorted({ITEMS[i][3] for i, _ in self.items})


def _event_id(order_id: str, sequence: int) -> str:
    return f"{order_id}-{sequence:03d}".replace("_", "-")


def order_events(order: OrderSpec) -> list[dict]:
    """The events of one order in sequence order, as the generator writes them."""
    at = lambda minutes: order.created + dt.timedelta(minutes=minutes)  # noqa: E731
    route = order.route()
    items = [
        {
            "id": ITEMS[i][0],
            "category_id": ITEMS[i][1],
            "menu_id": ITEMS[i][2],
            "brand_id": ITEMS[i][3],
            "name": ITEMS[i][4],
            "price": ITEMS[i][5],
            "qty": q,
        }
        for i, q in order.items
    ]
    steps: list[tuple[str, dt.datetime, dict]] = [
        (
            "order_created",
            order.created,
            {
                "customer_lat": order.customer[0],
                "customer_lon": order.customer[1],
                "customer_addr": "1 Test St",
                "items": items,
            },
        ),
        ("gk_started", at(order.started_min), {}),
        ("gk_finished", at(order.finished_min), {}),
        ("gk_ready", at(order.ready_min), {}),
        ("driver_arrived", at(order.arrived_min), {}),
        ("driver_picked_up", at(order.picked_up_min), {"route_points": route, "eta_mins": 15.0}),
    ]
    end = order.delivered_min if order.delivered_min is not None else order.picked_up_min + 10
    for h in range(1, order.pings + 1):
        progress = h / (order.pings + 1)
        point = route[math.floor(progress * (len(route) - 1))]
        steps.append(
            (
                "driver_ping",
                at(order.picked_up_min + (end - order.picked_up_min) * progress),
                {
                    "progress_pct": round(100 * progress, 1),
                    "loc_lat": point[0],
                    "loc_lon": point[1],
                },
            )
        )
    if order.delivered_min is not None:
        steps.append(
            (
                "delivered",
                at(order.delivered_min),
                {"delivered_lat": order.customer[0], "delivered_lon": order.customer[1]},
            )
        )
    events = []
    for sequence, (event_type, moment, body) in enumerate(steps):
        for name in order.body_nulls.get(event_type, ()):
            body[name] = None
        events.append(
            {
                "event_id": _event_id(order.order_id, sequence),
                "event_type": event_type,
                "ts": fmt_ts(moment),
                "gk_id": order.gk_id,
                "location": order.location,
                "order_id": order.order_id,
                "sequence": sequence,
                "body": json.dumps(body),
            }
        )
    return events


def events_of(orders: Iterable[OrderSpec]) -> list[dict]:
    return [event for order in orders for event in order_events(order)]


def _land(folder: Path, name: str, payload: bytes) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    temporary = folder / f".{name}.tmp"
    temporary.write_bytes(payload)
    os.replace(temporary, folder / name)
    return folder / name


def land_ndjson(folder: Path, name: str, lines: Iterable[dict | str]) -> Path:
    """One line per item: a dict is dumped as JSON, a str is written verbatim (for bad lines)."""
    text = "".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines)
    return _land(folder, name, text.encode("utf-8"))


def land_json_array(
    folder: Path, name: str, events: Sequence[dict], *, indent: int | None = None
) -> Path:
    return _land(folder, name, json.dumps(list(events), indent=indent).encode("utf-8"))


def land_bytes(folder: Path, name: str, payload: bytes) -> Path:
    return _land(folder, name, payload)


def standard_orders(start: dt.datetime | None = None) -> list[OrderSpec]:
    """Six orders over two locations and two days: single and multi-brand baskets, one undelivered."""
    t0 = start or dt.datetime(2025, 3, 3, 11, 15, 0, 123456)
    return [
        OrderSpec("o-1", t0, items=((0, 2), (2, 1)), delivered_min=31.5),
        OrderSpec(
            "o-2", t0 + dt.timedelta(minutes=7), items=((3, 1), (0, 1), (5, 2)), delivered_min=48.25
        ),
        OrderSpec(
            "o-3",
            t0 + dt.timedelta(hours=1, minutes=3),
            items=((6, 3),),
            delivered_min=27.0,
            pings=0,
        ),
        OrderSpec(
            "o-4", t0 + dt.timedelta(hours=1, minutes=20), items=((1, 1),), delivered_min=None
        ),
        OrderSpec(
            "o-5",
            t0 + dt.timedelta(minutes=30),
            location="chicago",
            customer=(41.8700, -87.6500),
            items=((4, 2), (2, 1)),
            delivered_min=40.0,
        ),
        OrderSpec(
            "o-6",
            t0 + dt.timedelta(days=1, hours=2),
            location="chicago",
            customer=(41.8900, -87.6200),
            items=((5, 1), (6, 2), (0, 1)),
            delivered_min=55.5,
            route_hops=9,
        ),
    ]


def bulk_landing(
    folder: Path,
    *,
    orders: int = 75_000,
    files: int = 360,
    seed: int = 7,
    start: dt.datetime = dt.datetime(2025, 1, 1),
    days: int = 90,
    route_points: tuple[int, int] = (20, 90),
) -> int:
    """A large landing folder (about 13 events per order) for benchmarks; returns the event count."""
    rng = random.Random(seed)
    span_s = days * 86400
    created = sorted(rng.random() * span_s for _ in range(orders))
    per_file = math.ceil(orders / files)
    total = 0
    for f in range(files):
        lines: list[str] = []
        for n in range(f * per_file, min(orders, (f + 1) * per_file)):
            location = "sanfrancisco" if n % 2 else "chicago"
            k_lat, k_lon = KITCHENS[location][1:]
            basket = [
                (rng.randrange(len(ITEMS)), rng.randint(1, 3)) for _ in range(rng.randint(1, 4))
            ]
            spec = OrderSpec(
                order_id=f"{seed:02d}{n:08d}",
                created=start + dt.timedelta(seconds=created[n]),
                location=location,
                items=basket,
                customer=(k_lat + rng.uniform(-0.04, 0.04), k_lon + rng.uniform(-0.05, 0.05)),
                route_hops=rng.randint(*route_points),
                started_min=rng.uniform(1, 4),
                finished_min=rng.uniform(8, 16),
                ready_min=rng.uniform(16, 18),
                arrived_min=rng.uniform(10, 20),
                picked_up_min=rng.uniform(21, 26),
                delivered_min=rng.uniform(30, 60),
                pings=rng.randint(3, 8),
            )
            for event in order_events(spec):
                lines.append(json.dumps(event))
        total += len(lines)
        _land(folder, f"bulk-{f:05d}.ndjson", ("\n".join(lines) + "\n").encode("utf-8"))
    return total


# -- bad input ---------------------------------------------------------------------------------------


def bad_lines(order_id: str = "o-bad", when: dt.datetime | None = None) -> list[tuple[str, str]]:
    """(line, expected quarantine reason) for each kind of broken record an NDJSON file can hold."""
    ts = fmt_ts(when or dt.datetime(2025, 3, 3, 10, 0))
    good = {
        "event_id": f"{order_id}-x",
        "event_type": "gk_started",
        "ts": ts,
        "gk_id": "gk-sanfrancisco",
        "location": "sanfrancisco",
        "order_id": order_id,
        "sequence": 1,
        "body": "{}",
    }

    def variant(**changes) -> str:
        event = {**good, **changes}
        return json.dumps({k: v for k, v in event.items() if v is not ...})

    return [
        ("this is not json", "invalid_json"),
        ("[1, 2, 3]", "invalid_json"),
        (variant(event_id=f"{order_id}-1", sequence="abc"), "bad_type:sequence"),
        (variant(event_id=f"{order_id}-2", sequence=1.5), "bad_type:sequence"),
        (variant(event_id=f"{order_id}-3", ts="yesterday"), "bad_type:ts"),
        (variant(event_id=f"{order_id}-4", order_id=...), "missing_field:order_id"),
        (variant(event_id=f"{order_id}-5", gk_id=None), "missing_field:gk_id"),
        (variant(event_id=f"{order_id}-6", body=...), "missing_field:body"),
        (variant(event_id=f"{order_id}-7", body="not a json object"), "bad_type:body"),
        (variant(event_id=f"{order_id}-8", event_type="teleported"), "unknown_event_type"),
        (variant(event_id=...), "missing_field:event_id"),
        # a reference dataset's row `casper replay` could not map, whatever else it holds
        (variant(event_id=f"{order_id}-10", replay_unmapped="location_id"), "unmapped:location_id"),
        # without a location_id, neither gk_id nor location is derived
        (variant(event_id=f"{order_id}-11", location=" "), "missing_field:location"),
        # only spaces, tabs and carriage returns make a line blank: a form feed is a record
        ("\x0c", "invalid_json"),
        # a line separator: a record too (a Java regex's $ matches before it)
        ("\u2028", "invalid_json"),
        # a truncated last line, as a writer killed mid-line would leave
        (variant(event_id=f"{order_id}-9")[:40], "invalid_json"),
    ]


# -- reading the warehouse ---------------------------------------------------------------------------


def query(home, sql: str, params=None) -> list[tuple]:
    """Run a query on warehouse.duckdb with a plain, short-lived, read-only DuckDB connection."""
    import duckdb

    connection = duckdb.connect(str(home.warehouse), read_only=True)
    try:
        return connection.execute(sql, params or []).fetchall()
    finally:
        connection.close()


#: lineage columns: the landing batch a row comes from (batch numbers are per run, not per data)
LINEAGE = ("batch_no",)


def columns(home, name: str) -> list[str]:
    return [row[0] for row in query(home, f"DESCRIBE {name}")]


def table(home, name: str, order_by: str = "ALL") -> list[tuple]:
    """A table's rows in a stable order, without its lineage columns (see LINEAGE)."""
    selected = ", ".join(c for c in columns(home, name) if c not in LINEAGE)
    return query(home, f"SELECT {selected} FROM {name} ORDER BY {order_by}")


def scalar(home, sql: str):
    return query(home, sql)[0][0]


@contextlib.contextmanager
def shared_sqlmesh_cache(folder: Path) -> Iterator[None]:
    """Point every pipeline built inside the block at one SQLMesh cache folder."""
    previous = os.environ.get("CASPER_SQLMESH_CACHE")
    os.environ["CASPER_SQLMESH_CACHE"] = str(folder)
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("CASPER_SQLMESH_CACHE", None)
        else:
            os.environ["CASPER_SQLMESH_CACHE"] = previous
