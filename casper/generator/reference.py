"""The reference's canonical dataset, as published: compact events.parquet beside its dimension files.

events.parquet holds one row per event: order_id, location_id (integer), event_type_id (1..8),
ts_seconds (epoch seconds, UTC), sequence, and the columns a body is built from (customer_lat,
customer_lon, customer_addr, items_json, route_json, ping_lat, ping_lon, ping_progress).
locations.parquet maps location_id to location_code; brands, menus, categories and items.parquet
are the menu the items refer to (brand_locations.parquet is not used).

`expand` turns rows into our events as the reference's replay (data/canonical's notebook) builds
them: the body per event type from those columns (order_created: customer_lat, customer_lon,
customer_addr, items; driver_picked_up: route_points, no eta_mins; driver_ping: progress_pct,
loc_lat, loc_lon; delivered: delivered_lat, delivered_lon from the customer's position; the rest
`{}`; a field that is null is left out), the location its location_code, gk_id `gk-<location_code>`
(as the generator names a kitchen). One difference: items and route_points are items_json and
route_json as written (the reference's generator writes the items with id, category_id, menu_id,
brand_id, name, price, qty, which is what its Spark replay re-serialises them to; here they keep
the file's spacing, and a key beyond those would stay). Where
the reference draws a fresh uuid4 per event and run, the event_id here is a uuid5 of (order_id with
its loop suffix, event type, sequence): a replay landed twice lands the same events.

A row that cannot be mapped (a location_id locations.parquet does not have, an event_type_id not
1..8, an items_json or route_json that is not a JSON array) is kept: it is landed marked
`replay_unmapped: <column>` with its columns, and the pipeline quarantines it `unmapped:<column>`.
"""

from __future__ import annotations

import hashlib
import json
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


def _reject_constant(name: str) -> object:
    raise ValueError(f"{name} is not JSON")


def _is_array(text: str | None) -> bool:
    if text is None:
        return True
    try:
        value = json.loads(text, parse_constant=_reject_constant)
    except ValueError:
        return False
    return value is None or isinstance(value, list)


def _json_arrays(column: pl.Series, dtype: pl.DataType) -> pl.Series:
    """Which values are a JSON array (or null): decoded at once as the reference's schema `dtype`,
    value by value only when that fails (some value is not one)."""
    try:
        column.str.json_decode(dtype)
    except pl.exceptions.PolarsError:
        return pl.Series([_is_array(text) for text in column.to_list()], dtype=pl.Boolean)
    return pl.Series([True] * column.len(), dtype=pl.Boolean)


def _member(name: str, column: str) -> pl.Expr:
    """`"name":<the number>`, or null when the value is (the reference leaves it out)."""
    value = pl.col(column)
    return pl.when(value.is_not_null()).then(
        pl.concat_str([pl.lit(f'"{name}":'), value.cast(pl.String)])
    )


def _text_member(name: str, column: str) -> pl.Expr:
    """`"name":"<the text, escaped>"`, or null when the value is."""
    value = pl.col(column)
    text = pl.struct(value.alias(name)).struct.json_encode()
    return pl.when(value.is_not_null()).then(text.str.slice(1, text.str.len_chars() - 2))


def _raw_member(name: str, column: str) -> pl.Expr:
    """`"name":<the column's JSON text as it is>`, or null."""
    value = pl.col(column)
    return pl.when(value.is_not_null()).then(pl.concat_str([pl.lit(f'"{name}":'), value]))


def _object(*fields: pl.Expr) -> pl.Expr:
    return pl.concat_str(
        [pl.lit("{"), pl.concat_str(list(fields), separator=",", ignore_nulls=True), pl.lit("}")]
    )


_ITEMS = pl.List(
    pl.Struct(
        {
            "id": pl.Int64,
            "category_id": pl.Int64,
            "menu_id": pl.Int64,
            "brand_id": pl.Int64,
            "name": pl.String,
            "price": pl.Float64,
            "qty": pl.Int64,
        }
    )
)
_ROUTE = pl.List(pl.List(pl.Float64))


def expand(compact: pl.DataFrame, codes: dict[int, str]) -> pl.DataFrame:
    """Our events from the compact rows (see the module docstring): columns event_type, ts_us,
    gk_id, location, order_id, sequence, body, replay_unmapped (the column that could not be
    mapped, else null), raw (such a row's own columns as JSON members), id_key (what its event_id
    is derived from, with the order id); sorted by (ts_us, order_id, sequence). items_json and
    route_json go into the body as they are written (valid JSON arrays; the reference's
    generator writes them with the reference's fields, in its order)."""
    frame = compact.with_columns(
        event_type=pl.col("event_type_id").replace_strict(
            EVENT_TYPE_IDS, default=None, return_dtype=pl.String
        ),
        location=pl.col("location_id").replace_strict(codes, default=None, return_dtype=pl.String),
    )
    kind = pl.col("event_type")
    created, picked = kind == "order_created", kind == "driver_picked_up"
    items_ok = pl.Series(
        "items_ok", [True] * frame.height, dtype=pl.Boolean
    )  # replaced below for order_created rows
    frame = frame.with_columns(
        items_ok=items_ok,
        route_ok=items_ok,
        _row=pl.int_range(pl.len(), dtype=pl.UInt32),
    )
    for flag, condition, column, dtype in (
        ("items_ok", created, "items_json", _ITEMS),
        ("route_ok", picked, "route_json", _ROUTE),
    ):
        rows = frame.filter(condition)
        checked = rows.select("_row", _json_arrays(rows[column], dtype).alias("_ok"))
        frame = (
            frame.join(checked, on="_row", how="left")
            .with_columns(pl.coalesce("_ok", flag).alias(flag))
            .drop("_ok")
        )
    body = (
        pl.when(created)
        .then(
            _object(
                _member("customer_lat", "customer_lat"),
                _member("customer_lon", "customer_lon"),
                _text_member("customer_addr", "customer_addr"),
                _raw_member("items", "items_json"),
            )
        )
        .when(picked)
        .then(_object(_raw_member("route_points", "route_json")))
        .when(kind == "driver_ping")
        .then(
            pl.when(pl.col("ping_lat").is_not_null())
            .then(
                _object(
                    _member("progress_pct", "ping_progress"),
                    _member("loc_lat", "ping_lat"),
                    _member("loc_lon", "ping_lon"),
                )
            )
            .otherwise(pl.lit("{}"))
        )
        .when(kind == "delivered")
        .then(
            pl.when(pl.col("customer_lat").is_not_null())
            .then(
                _object(
                    _member("delivered_lat", "customer_lat"),
                    _member("delivered_lon", "customer_lon"),
                )
            )
            .otherwise(pl.lit("{}"))
        )
        .otherwise(pl.lit("{}"))
    )
    unmapped = (
        pl.when(kind.is_null())
        .then(pl.lit("event_type_id"))
        .when(pl.col("location").is_null())
        .then(pl.lit("location_id"))
        .when(~pl.col("items_ok"))
        .then(pl.lit("items_json"))
        .when(~pl.col("route_ok"))
        .then(pl.lit("route_json"))
    )
    frame = frame.with_columns(body=body, replay_unmapped=unmapped)
    lost = frame.filter(pl.col("replay_unmapped").is_not_null())
    raw = lost.select(
        "_row",
        pl.Series(
            "raw",
            [_raw_row(row) for row in lost.select(_RAW_COLUMNS).iter_rows(named=True)],
            dtype=pl.String,
        ),
    )
    frame = frame.join(raw, on="_row", how="left")
    type_key = pl.coalesce(
        "event_type", pl.concat_str([pl.lit("event_type_id:"), pl.col("_event_type_id_text")])
    )
    return (
        frame.with_columns(
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


#: the variant bits of a uuid, by the digest's hex digit they replace
_VARIANT = {digit: "89ab"[int(digit, 16) & 3] for digit in "0123456789abcdef"}


def event_ids(order_ids: pl.Series, id_keys: pl.Series) -> pl.Series:
    """uuid5(EVENT_ID_NAMESPACE, "<order id>|<event type>|<sequence>") of each event (order ids
    with their loop suffix), as uuid.uuid5 writes it."""
    prefix = EVENT_ID_NAMESPACE.bytes
    sha1 = hashlib.sha1
    ids = []
    for order_id, key in zip(order_ids.to_list(), id_keys.to_list(), strict=True):
        h = sha1(prefix + f"{order_id}|{key}".encode()).hexdigest()
        ids.append(f"{h[:8]}-{h[8:12]}-5{h[13:16]}-{_VARIANT[h[16]]}{h[17:20]}-{h[20:32]}")
    return pl.Series("event_id", ids, dtype=pl.String)


def encode(batch: pl.DataFrame, columns: tuple[str, ...]) -> bytes:
    """The landing file's lines for a batch of expanded events (with ts, their order ids suffixed;
    event ids derived here unless given): an event's
    `columns`, or for a row that cannot be mapped {"replay_unmapped": ..., event_id, event_type
    when known, ts, order_id, sequence, then its own columns}."""
    if batch.is_empty():
        return b""
    if "event_id" not in batch.columns:
        batch = batch.with_columns(event_id=event_ids(batch["order_id"], batch["id_key"]))
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
