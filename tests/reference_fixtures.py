"""A tiny dataset in the reference's compact canonical format, built from code (never downloaded),
and files of the events the reference's replay writes into its volume.

`canonical_dataset(folder)` writes events.parquet (one row per event, the reference's column types:
int8 ids and sequence, float32 positions), locations.parquet and the dimension files, for a few
orders at two locations over three days, every one of the 8 event types, and two rows that cannot
be mapped (a location_id locations.parquet lacks, an event_type_id beyond 8). `ORDERS` says what
is in it, so a test recomputes gold from these plain values, not from the code under test.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from dataclasses import dataclass
from pathlib import Path

import polars as pl

EPOCH = dt.datetime(2024, 1, 1)
DAY_S = 86_400

LOCATIONS = [
    # location_id, location_code, name, lat, lon
    (1, "sf", "San Francisco", 37.7897, -122.3929),
    (2, "chicago", "Chicago", 41.8806, -87.6364),
]
BRANDS = [(1, "McDoodles", "Fast Food", 8), (2, "ChipoLot", "Mexican", 10)]
MENUS = [(1, 1, "McDoodles Main Menu"), (2, 2, "ChipoLot Main Menu")]
CATEGORIES = [(1, 1, 1, "Burgers"), (2, 1, 1, "Sides"), (3, 2, 2, "Burritos")]
ITEMS = [
    # id, category_id, menu_id, brand_id, name, price
    (1, 1, 1, 1, "Big Stack", 8.08),
    (2, 1, 1, 1, "Quarter Poundish", 9.39),
    (3, 2, 1, 1, "Fries", 2.99),
    (4, 3, 2, 2, "Bean Burrito", 7.25),
    (5, 3, 2, 2, "Carne Asada Burrito", 11.5),
]
ITEM_BY_ID = {item[0]: item for item in ITEMS}


@dataclass(frozen=True)
class Order:
    order_id: str
    location_id: int
    day: int  # dataset day (0 = 2024-01-01)
    minute: int  # minute of the day the order is created
    items: tuple[tuple[int, int], ...]  # (item id, qty)
    pings: int = 2
    delivered: bool = True

    @property
    def created_s(self) -> int:
        return (
            int((EPOCH - dt.datetime(1970, 1, 1)).total_seconds())
            + self.day * DAY_S
            + self.minute * 60
        )


ORDERS = [
    Order("A7K2M9", 1, 0, 11 * 60 + 5, ((1, 2), (3, 1))),
    Order("P3X8Q1", 2, 0, 18 * 60 + 30, ((4, 1),), pings=3),
    Order("BRPOIG", 1, 1, 9 * 60, ((2, 1), (5, 2))),
    Order("Q9W8E7", 2, 1, 12 * 60 + 40, ((5, 1), (4, 2), (3, 3))),  # after --start-day 1 at 12:00
    Order("Z1Y2X3", 1, 2, 13 * 60, ((1, 1),), pings=1),
    Order("M4N5B6", 2, 2, 20 * 60, ((2, 2),), delivered=False),  # still on its way at the end
]
#: rows events.parquet holds that no location or event type maps: (order_id, column, row changes)
UNMAPPED = [
    ("LOST01", "location_id", {"location_id": 9, "event_type_id": 1}),
    ("ODD001", "event_type_id", {"location_id": 1, "event_type_id": 9}),
]


def _route(location_id: int) -> list[tuple[float, float]]:
    # a location no locations.parquet knows gets a kitchen somewhere too (Bellevue's)
    _, _, _, lat, lon = next(
        (loc for loc in LOCATIONS if loc[0] == location_id), (0, "", "", 47.6163, -122.3389)
    )
    return [(round(lat + 0.001 * i, 6), round(lon - 0.001 * i, 6)) for i in range(5)]


def _row(order_id, location_id, event_type_id, ts_seconds, sequence, **body) -> dict:
    return {
        "order_id": order_id,
        "location_id": location_id,
        "event_type_id": event_type_id,
        "ts_seconds": ts_seconds,
        "sequence": sequence,
        "customer_lat": None,
        "customer_lon": None,
        "customer_addr": None,
        "items_json": None,
        "route_json": None,
        "ping_lat": None,
        "ping_lon": None,
        "ping_progress": None,
        **body,
    }


def order_rows(order: Order) -> list[dict]:
    """The compact rows of one order, as the reference's generator writes them."""
    route = _route(order.location_id)
    customer = {"customer_lat": route[-1][0], "customer_lon": route[-1][1]}
    items = [
        {
            "id": item_id,
            "category_id": ITEM_BY_ID[item_id][1],
            "menu_id": ITEM_BY_ID[item_id][2],
            "brand_id": ITEM_BY_ID[item_id][3],
            "name": ITEM_BY_ID[item_id][4],
            "price": ITEM_BY_ID[item_id][5],
            "qty": qty,
        }
        for item_id, qty in order.items
    ]
    t = order.created_s
    oid, loc = order.order_id, order.location_id
    rows = [
        _row(
            oid,
            loc,
            1,
            t,
            0,
            **customer,
            customer_addr="3612 Main St",
            items_json=json.dumps(items),
        ),
        _row(oid, loc, 2, t + 120, 1),
        _row(oid, loc, 3, t + 720, 2),
        _row(oid, loc, 4, t + 840, 3),
        _row(oid, loc, 5, t + 600, 4),  # the driver arrives before the food is ready
        _row(oid, loc, 6, t + 1200, 5, route_json=json.dumps(route)),
    ]
    for hop in range(1, order.pings + 1):
        progress = hop / (order.pings + 1)
        lat, lon = route[int(progress * (len(route) - 1))]
        rows.append(
            _row(oid, loc, 7, t + 1200 + 60 * hop, 5 + hop, ping_lat=lat, ping_lon=lon,
                 ping_progress=progress * 100)
        )  # fmt: skip
    if order.delivered:
        rows.append(
            _row(oid, loc, 8, t + 1200 + 60 * (order.pings + 1), 6 + order.pings, **customer)
        )
    return rows


def compact_rows() -> list[dict]:
    rows = [row for order in ORDERS for row in order_rows(order)]
    for order_id, _, changes in UNMAPPED:
        row = _row(order_id, 1, 1, ORDERS[0].created_s + 300, 0, customer_addr="1 Lost Rd")
        rows.append({**row, **changes})
    return rows


#: the reference's column types (its generator's compaction)
COMPACT_SCHEMA = {
    "order_id": pl.String,
    "location_id": pl.Int8,
    "event_type_id": pl.Int8,
    "ts_seconds": pl.Int64,
    "sequence": pl.Int8,
    "customer_lat": pl.Float32,
    "customer_lon": pl.Float32,
    "customer_addr": pl.String,
    "items_json": pl.String,
    "route_json": pl.String,
    "ping_lat": pl.Float32,
    "ping_lon": pl.Float32,
    "ping_progress": pl.Float32,
}


def canonical_dataset(folder: Path, *, dimensions: bool = True) -> Path:
    """Write the dataset's files into `folder` (created); returns it."""
    folder.mkdir(parents=True, exist_ok=True)
    pl.DataFrame(compact_rows(), schema=COMPACT_SCHEMA).write_parquet(folder / "events.parquet")
    pl.DataFrame(
        [
            {"location_id": i, "location_code": code, "name": name, "address": f"{i} Main St",
             "lat": lat, "lon": lon, "narrative": "growing", "base_orders_day": 100,
             "growth_rate_daily": 0.005}
            for i, code, name, lat, lon in LOCATIONS
        ]
    ).write_parquet(folder / "locations.parquet")  # fmt: skip
    if dimensions:
        pl.DataFrame(
            BRANDS, schema=["brand_id", "name", "cuisine_type", "avg_prep_time_min"], orient="row"
        ).write_parquet(folder / "brands.parquet")
        pl.DataFrame(MENUS, schema=["id", "brand_id", "name"], orient="row").write_parquet(
            folder / "menus.parquet"
        )
        pl.DataFrame(
            CATEGORIES, schema=["id", "menu_id", "brand_id", "name"], orient="row"
        ).write_parquet(folder / "categories.parquet")
        pl.DataFrame(
            ITEMS,
            schema=["id", "category_id", "menu_id", "brand_id", "name", "price"],
            orient="row",
        ).write_parquet(folder / "items.parquet")
        pl.DataFrame(
            [(1, 1, 1, 0, None, "growing", 0.2), (2, 2, 2, 0, None, "flat", 0.0)],
            schema=["brand_location_id", "brand_id", "location_id", "start_day", "end_day",
                    "trajectory", "growth_rate_monthly"],
            orient="row",
        ).write_parquet(folder / "brand_locations.parquet")  # fmt: skip
    return folder


# -- the reference replay's own output: JSON lines in its volume ------------------------------------


def expanded_events(orders: list[Order], shift_s: int) -> list[dict]:
    """The events the reference's replay writes for `orders` (timestamps moved by `shift_s`):
    event_id a fresh uuid4, ts in milliseconds, an integer location_id, no location, no gk_id,
    driver_picked_up without eta_mins, body a JSON string built the way its Spark job does."""
    events = []
    for order in orders:
        for row in order_rows(order):
            kind = row["event_type_id"]
            if kind == 1:
                items = json.loads(row["items_json"])
                body = {"customer_lat": row["customer_lat"], "customer_lon": row["customer_lon"],
                        "customer_addr": row["customer_addr"], "items": items}  # fmt: skip
            elif kind == 6:
                body = {"route_points": json.loads(row["route_json"])}
            elif kind == 7:
                body = {"progress_pct": row["ping_progress"], "loc_lat": row["ping_lat"],
                        "loc_lon": row["ping_lon"]}  # fmt: skip
            elif kind == 8:
                body = {"delivered_lat": row["customer_lat"], "delivered_lon": row["customer_lon"]}
            else:
                body = {}
            ts = dt.datetime(1970, 1, 1) + dt.timedelta(seconds=row["ts_seconds"] + shift_s)
            events.append(
                {
                    "event_id": str(uuid.uuid4()),
                    "event_type": EVENT_TYPES[kind],
                    "ts": ts.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3],
                    "location_id": row["location_id"],
                    "order_id": row["order_id"],
                    "sequence": row["sequence"],
                    "body": json.dumps(body, separators=(",", ":")),
                }
            )
    return events


EVENT_TYPES = {
    1: "order_created",
    2: "gk_started",
    3: "gk_finished",
    4: "gk_ready",
    5: "driver_arrived",
    6: "driver_picked_up",
    7: "driver_ping",
    8: "delivered",
}


def land_spark_json(folder: Path, events: list[dict], parts: int = 2) -> list[Path]:
    """The events as Spark's JSON writer leaves them in a volume: part-*.json files of JSON lines
    (nulls left out), and a _SUCCESS marker no reader takes for a landing file."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for part in range(parts):
        chunk = events[part::parts]
        path = folder / f"part-{part:05d}-{uuid.uuid4()}-c000.json"
        path.write_text("".join(json.dumps(e, separators=(",", ":")) + "\n" for e in chunk))
        paths.append(path)
    (folder / "_SUCCESS").write_bytes(b"")
    return paths
