"""The reference's canonical dataset, as published: compact events.parquet beside its dimension files.

events.parquet holds one row per event: order_id, location_id (integer), event_type_id (1..8),
ts_seconds (epoch seconds, UTC), sequence, and the columns a body is built from (customer_lat,
customer_lon, customer_addr, items_json, route_json, ping_lat, ping_lon, ping_progress).
locations.parquet maps location_id to location_code; brands, menus, categories and items.parquet
are the menu the items refer to (brand_locations.parquet is not used).

`expand` turns rows into our events as the reference's replay (data/canonical's notebook) builds
them: the body per event type from those columns (order_created: customer_lat, customer_lon,
customer_addr, items with id, category_id, menu_id, brand_id, name, price, qty; driver_picked_up:
route_points, no eta_mins; driver_ping: progress_pct, loc_lat, loc_lon; delivered: delivered_lat,
delivered_lon from the customer's position; the rest `{}`; a field that is null is left out), the
location its location_code, gk_id `gk-<location_code>` (as the generator names a kitchen). Where
the reference draws a fresh uuid4 per event and run, the event_id here is a uuid5 of (order_id with
its loop suffix, event type, sequence): a replay landed twice lands the same events.

A row that cannot be mapped (a location_id locations.parquet does not have, an event_type_id not
1..8, an items_json or route_json that is not a JSON array) is kept: it is landed marked
`replay_unmapped: <column>` with its columns, and the pipeline quarantines it `unmapped:<column>`.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import uuid
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from casper.catalog import home as home_catalog
from casper.errors import CasperError

EVENT_TYPE_IDS = {
    1: "order_created",
    2: "gk_started",
    3: "gk_finished",
    4: "gk_ready",
    5: "driver_arrived",
    6: "driver_picked_up",
    7: "driver_ping",
    8: "delivered",
}
EVENTS_FILE = "events.parquet"
LOCATIONS_FILE = "locations.parquet"
#: columns every row has, and the body's columns (absent ones are taken as all null)
REQUIRED = {
    "order_id": pl.String,
    "location_id": pl.Int64,
    "event_type_id": pl.Int64,
    "ts_seconds": pl.Int64,
    "sequence": pl.Int64,
}
BODY_COLUMNS = {
    "customer_lat": pl.Float64,
    "customer_lon": pl.Float64,
    "customer_addr": pl.String,
    "items_json": pl.String,
    "route_json": pl.String,
    "ping_lat": pl.Float64,
    "ping_lon": pl.Float64,
    "ping_progress": pl.Float64,
}
#: an item of an order_created body: its fields in the reference's order, and their JSON types
ITEM_FIELDS = (
    ("id", int),
    ("category_id", int),
    ("menu_id", int),
    ("brand_id", int),
    ("name", str),
    ("price", float),
    ("qty", int),
)
#: the namespace of the event ids derived here
EVENT_ID_NAMESPACE = uuid.UUID("6f0d3b58-8a54-5c4e-9d0b-3c6a1f0e2b71")
#: where each simulator table comes from: file, then (our column, its columns in the file, the
#: first present wins; required or not)
DIMENSIONS: dict[str, tuple[str, tuple[tuple[str, tuple[str, ...], bool], ...]]] = {
    "brands": (
        "brands.parquet",
        (
            ("brand_id", ("brand_id", "id"), True),
            ("name", ("name",), True),
            ("cuisine", ("cuisine", "cuisine_type"), False),
            ("description", ("description",), False),
        ),
    ),
    "menus": (
        "menus.parquet",
        (
            ("menu_id", ("menu_id", "id"), True),
            ("brand_id", ("brand_id",), True),
            ("name", ("name",), True),
        ),
    ),
    "categories": (
        "categories.parquet",
        (
            ("category_id", ("category_id", "id"), True),
            ("menu_id", ("menu_id",), True),
            ("brand_id", ("brand_id",), True),
            ("name", ("name",), True),
        ),
    ),
    "items": (
        "items.parquet",
        (
            ("item_id", ("item_id", "id"), True),
            ("category_id", ("category_id",), True),
            ("menu_id", ("menu_id",), True),
            ("brand_id", ("brand_id",), True),
            ("name", ("name",), True),
            ("description", ("description",), False),
            ("price", ("price",), True),
        ),
    ),
    "locations": (
        LOCATIONS_FILE,
        (
            ("location_id", ("location_id", "id"), True),
            ("location_code", ("location_code",), True),
            ("name", ("name",), False),
            ("address", ("address",), False),
            ("lat", ("lat",), False),
            ("lon", ("lon",), False),
            ("narrative", ("narrative",), False),
            ("base_orders_day", ("base_orders_day",), False),
            ("growth_rate_daily", ("growth_rate_daily",), False),
        ),
    ),
}


def is_reference_dataset(path: Path) -> bool:
    """A folder holding events.parquet, or a .parquet file (its folder is the dataset)."""
    return (path.is_dir() and (path / EVENTS_FILE).is_file()) or (
        path.is_file() and path.suffix == ".parquet"
    )


@dataclass(frozen=True)
class ReferenceDataset:
    folder: Path
    #: the expanded events (see expand), sorted by (ts_us, order_id, sequence)
    events: pl.DataFrame
    #: simulator table name -> rows with its columns (casper.catalog.home.TABLES): locations, and
    #: brands, menus, categories and items when the dataset has them
    dimensions: dict[str, pl.DataFrame]


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def _read_parquet(path: Path) -> pl.DataFrame:
    try:
        return pl.read_parquet(path)
    except (OSError, pl.exceptions.PolarsError) as exc:
        raise CasperError(f"{path}: not a readable parquet file ({_first_line(exc)})") from None


def _dimension(folder: Path, name: str) -> pl.DataFrame:
    file, columns = DIMENSIONS[name]
    path = folder / file
    raw = _read_parquet(path)
    picked = []
    for ours, theirs, required in columns:
        found = next((column for column in theirs if column in raw.columns), None)
        if found is None:
            if required:
                raise CasperError(f"{path}: no column {' or '.join(theirs)}")
            continue
        picked.append(pl.col(found).alias(ours))
    frame = raw.select(picked)
    try:
        frame = home_catalog.conform(frame, name)
    except pl.exceptions.PolarsError as exc:
        raise CasperError(f"{path}: a column has the wrong type ({_first_line(exc)})") from None
    key = columns[0][0]
    if frame[key].null_count():
        raise CasperError(f"{path}: a row has no {columns[0][1][-1]}")
    if (duplicated := frame.filter(pl.col(key).is_duplicated())).height:
        raise CasperError(f"{path}: {columns[0][1][-1]} {duplicated[key][0]} appears twice")
    return frame


def load_reference(path: Path) -> ReferenceDataset:
    """Read the dataset at `path` (a folder with events.parquet, or that file)."""
    folder = path if path.is_dir() else path.parent
    events_path = folder / EVENTS_FILE if path.is_dir() else path
    if not (folder / LOCATIONS_FILE).is_file():
        raise CasperError(
            f"{folder / LOCATIONS_FILE}: not found: a reference dataset needs it beside "
            f"{events_path.name} to map location_id to a location"
        )
    dimensions = {"locations": _dimension(folder, "locations")}
    menu = [name for name in home_catalog.MENU_TABLES if (folder / DIMENSIONS[name][0]).is_file()]
    if menu and len(menu) < len(home_catalog.MENU_TABLES):
        missing = [DIMENSIONS[name][0] for name in home_catalog.MENU_TABLES if name not in menu]
        raise CasperError(
            f"{folder}: has {', '.join(DIMENSIONS[name][0] for name in menu)} but not "
            f"{', '.join(missing)}: the menu's files come together or not at all"
        )
    for name in menu:
        dimensions[name] = _dimension(folder, name)
    compact = _compact(events_path)
    locations = dimensions["locations"]
    codes = dict(zip(locations["location_id"], locations["location_code"], strict=True))
    return ReferenceDataset(folder, expand(compact, codes), dimensions)


def _compact(path: Path) -> pl.DataFrame:
    raw = _read_parquet(path)
    missing = [column for column in REQUIRED if column not in raw.columns]
    if missing:
        raise CasperError(f"{path}: no column {', '.join(missing)} (a reference events.parquet)")
    if raw.is_empty():
        raise CasperError(f"{path}: the dataset holds no events")
    typed = raw.select(
        *(pl.col(c).cast(t, strict=False) for c, t in REQUIRED.items()),
        *(
            pl.col(c).cast(t, strict=False) if c in raw.columns else pl.lit(None, t).alias(c)
            for c, t in BODY_COLUMNS.items()
        ),
        # kept as written, to land a row that cannot be mapped with its own values
        pl.col("location_id").cast(pl.String).alias("_location_id_text"),
        pl.col("event_type_id").cast(pl.String).alias("_event_type_id_text"),
    ).with_columns(pl.col(c).fill_nan(None) for c, t in BODY_COLUMNS.items() if t == pl.Float64)
    unusable = typed.filter(
        pl.any_horizontal(pl.col(c).is_null() for c in ("order_id", "ts_seconds", "sequence"))
    )
    if unusable.height:
        raise CasperError(
            f"{path}: {unusable.height} row(s) lack an order_id, a ts_seconds or a sequence "
            "(whole numbers), so they cannot be replayed in time"
        )
    return typed


def _compact_json(value: object) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def _number(value: object, kind: type) -> object:
    """A JSON value of the reference's type for an item field, or None (the field is left out)."""
    if isinstance(value, bool) or value is None:
        return None
    if kind is int:
        return value if isinstance(value, int) else None
    if kind is float:
        if isinstance(value, int | float) and math.isfinite(value):
            return float(value)
        return None
    return value if isinstance(value, str) else None


def _item(item: object) -> dict | None:
    if not isinstance(item, dict):
        return None
    fields = ((name, _number(item.get(name), kind)) for name, kind in ITEM_FIELDS)
    return {name: value for name, value in fields if value is not None}


def _order_created_body(lat, lon, addr, items_json) -> str | None:
    """The body, or None when items_json is not a JSON array."""
    body: dict[str, object] = {}
    if lat is not None:
        body["customer_lat"] = lat
    if lon is not None:
        body["customer_lon"] = lon
    if addr is not None:
        body["customer_addr"] = addr
    if items_json is not None:
        try:
            items = json.loads(items_json)
        except ValueError:
            return None
        if not isinstance(items, list):
            return None
        body["items"] = [_item(item) for item in items]
    return _compact_json(body)


def _picked_up_body(route_json) -> str | None:
    """The body, or None when route_json is not a JSON array."""
    if route_json is None:
        return "{}"
    try:
        route = json.loads(route_json)
    except ValueError:
        return None
    if not isinstance(route, list):
        return None
    points = [
        [_number(x, float) for x in point] if isinstance(point, list) else None for point in route
    ]
    return _compact_json({"route_points": points})


def _number_field(name: str, column: str) -> pl.Expr:
    value = pl.col(column)
    return pl.when(value.is_not_null()).then(
        pl.concat_str([pl.lit(f'"{name}":'), value.cast(pl.String)])
    )


def _object(*fields: pl.Expr) -> pl.Expr:
    return pl.concat_str(
        [pl.lit("{"), pl.concat_str(list(fields), separator=",", ignore_nulls=True), pl.lit("}")]
    )


def expand(compact: pl.DataFrame, codes: dict[int, str]) -> pl.DataFrame:
    """Our events from the compact rows (see the module docstring): columns event_type, ts_us,
    gk_id, location, order_id, sequence, body, replay_unmapped (the column that could not be
    mapped, else null), raw (such a row's own columns as JSON), id_key (what its event_id is
    derived from, with the order id); sorted by (ts_us, order_id, sequence)."""
    frame = compact.with_columns(
        event_type=pl.col("event_type_id").replace_strict(
            EVENT_TYPE_IDS, default=None, return_dtype=pl.String
        ),
        location=pl.col("location_id").replace_strict(codes, default=None, return_dtype=pl.String),
    )
    simple = (
        pl.when(pl.col("event_type") == "driver_ping")
        .then(
            pl.when(pl.col("ping_lat").is_not_null())
            .then(
                _object(
                    _number_field("progress_pct", "ping_progress"),
                    _number_field("loc_lat", "ping_lat"),
                    _number_field("loc_lon", "ping_lon"),
                )
            )
            .otherwise(pl.lit("{}"))
        )
        .when(pl.col("event_type") == "delivered")
        .then(
            pl.when(pl.col("customer_lat").is_not_null())
            .then(
                _object(
                    _number_field("delivered_lat", "customer_lat"),
                    _number_field("delivered_lon", "customer_lon"),
                )
            )
            .otherwise(pl.lit("{}"))
        )
        .otherwise(pl.lit("{}"))
    )
    frame = frame.with_columns(body=simple)
    # the bodies that parse JSON columns: per row (about one event in seven)
    created = frame.filter(pl.col("event_type") == "order_created")
    created_bodies = [
        _order_created_body(*row)
        for row in created.select(
            "customer_lat", "customer_lon", "customer_addr", "items_json"
        ).iter_rows()
    ]
    picked = frame.filter(pl.col("event_type") == "driver_picked_up")
    picked_bodies = [_picked_up_body(route) for (route,) in picked.select("route_json").iter_rows()]
    frame = frame.with_columns(_row=pl.int_range(pl.len(), dtype=pl.UInt32))
    rows = pl.concat(
        [
            frame.filter(pl.col("event_type") == "order_created")
            .select("_row")
            .with_columns(
                _parsed=pl.Series(created_bodies, dtype=pl.String),
                _bad=pl.lit("items_json"),
            ),
            frame.filter(pl.col("event_type") == "driver_picked_up")
            .select("_row")
            .with_columns(
                _parsed=pl.Series(picked_bodies, dtype=pl.String),
                _bad=pl.lit("route_json"),
            ),
        ]
    )
    frame = frame.join(rows, on="_row", how="left").with_columns(
        body=pl.when(pl.col("_bad").is_not_null()).then(pl.col("_parsed")).otherwise("body")
    )
    unmapped = (
        pl.when(pl.col("event_type").is_null())
        .then(pl.lit("event_type_id"))
        .when(pl.col("location").is_null())
        .then(pl.lit("location_id"))
        .when(pl.col("body").is_null())
        .then(pl.col("_bad"))
    )
    frame = frame.with_columns(replay_unmapped=unmapped)
    raw = [
        _raw_row(row) if row["replay_unmapped"] is not None else None
        for row in frame.select(_RAW_COLUMNS + ["replay_unmapped"]).iter_rows(named=True)
    ]
    type_key = pl.coalesce(
        "event_type", pl.concat_str([pl.lit("event_type_id:"), pl.col("_event_type_id_text")])
    )
    return (
        frame.with_columns(
            raw=pl.Series(raw, dtype=pl.String),
            id_key=pl.concat_str([type_key, pl.col("sequence").cast(pl.String)], separator="|"),
            ts_us=pl.col("ts_seconds") * 1_000_000,
            gk_id=pl.concat_str([pl.lit("gk-"), pl.col("location")]),
        )
        .select(
            "event_type",
            "ts_us",
            "gk_id",
            "location",
            "order_id",
            "sequence",
            "body",
            "replay_unmapped",
            "raw",
            "id_key",
        )
        .sort(["ts_us", "order_id", "sequence"], maintain_order=True)
    )


#: a row's own columns, as its quarantined record holds them (order_id and sequence are top level)
_RAW_COLUMNS = [
    "_location_id_text",
    "_event_type_id_text",
    "ts_seconds",
    *BODY_COLUMNS,
]


def _raw_row(row: dict) -> str:
    """The JSON members (no braces) of a row that cannot be mapped: its columns that are not null,
    location_id and event_type_id as written (a number when they are one)."""
    values: dict[str, object] = {}
    for column in _RAW_COLUMNS:
        value = row[column]
        if value is None:
            continue
        name = column.removeprefix("_").removesuffix("_text")
        if column.endswith("_text") and re.fullmatch(r"-?[0-9]+", value):
            value = int(value)
        values[name] = value
    return _compact_json(values)[1:-1]


def event_ids(order_ids: pl.Series, id_keys: pl.Series) -> pl.Series:
    """uuid5(EVENT_ID_NAMESPACE, "<order id>|<event type>|<sequence>") of each event (order ids
    with their loop suffix), as uuid.uuid5 computes it."""
    prefix = EVENT_ID_NAMESPACE.bytes
    ids = []
    for order_id, key in zip(order_ids.to_list(), id_keys.to_list(), strict=True):
        digest = bytearray(hashlib.sha1(prefix + f"{order_id}|{key}".encode()).digest()[:16])
        digest[6] = (digest[6] & 0x0F) | 0x50
        digest[8] = (digest[8] & 0x3F) | 0x80
        text = digest.hex()
        ids.append(f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}")
    return pl.Series("event_id", ids, dtype=pl.String)


def encode(batch: pl.DataFrame, columns: tuple[str, ...]) -> bytes:
    """The landing file's lines for a batch of expanded events (with event_id and ts): an event's
    `columns`, or for a row that cannot be mapped {"replay_unmapped": ..., event_id, event_type
    when known, ts, order_id, sequence, then its own columns}."""
    if batch.is_empty():
        return b""
    lines = batch.select(pl.struct(list(columns)).struct.json_encode()).to_series().to_list()
    marked = batch.select(
        pl.int_range(pl.len()).alias("i"),
        "replay_unmapped",
        "raw",
        "event_id",
        "event_type",
        "ts",
        "order_id",
        "sequence",
    ).filter(pl.col("replay_unmapped").is_not_null())
    for row in marked.iter_rows(named=True):
        head = {"replay_unmapped": row["replay_unmapped"], "event_id": row["event_id"]}
        if row["event_type"] is not None:
            head["event_type"] = row["event_type"]
        head.update(ts=row["ts"], order_id=row["order_id"], sequence=row["sequence"])
        text = _compact_json(head)
        lines[row["i"]] = f"{text[:-1]},{row['raw']}}}" if row["raw"] else text
    return ("\n".join(lines) + "\n").encode("utf-8")
