"""A home's own catalog: the dimension tables of a dataset replayed into it (its `catalog/` folder).

The warehouse's `simulator.*` tables come from here. Each of brands, menus, categories and items is
the home's `catalog/<name>.csv` when `casper replay` seeded one from a dataset's dimension files
(the reference's canonical dataset ships them), else the shipped seed (models/seeds/<name>.csv, the
catalog the generator draws from). `simulator.locations` maps the reference's integer location ids
to location codes; only a seeded home has one (`catalog/locations.csv`), else it is empty.

The files have the seeds' columns (models/seeds/*.csv) plus locations', written once: a dataset
whose dimensions differ from those a home already holds is refused (casper.generator.reference),
so the ids of every order landed in a home keep joining the same names.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import polars as pl

from casper.errors import CasperError
from casper.resources import seeds_dir

#: every simulator table: its columns, their polars and SQL types, in the table's order
TABLES: dict[str, tuple[tuple[str, type[pl.DataType], str], ...]] = {
    "brands": (
        ("brand_id", pl.Int64, "INTEGER"),
        ("name", pl.String, "VARCHAR"),
        ("cuisine", pl.String, "VARCHAR"),
        ("description", pl.String, "VARCHAR"),
    ),
    "menus": (
        ("menu_id", pl.Int64, "INTEGER"),
        ("brand_id", pl.Int64, "INTEGER"),
        ("name", pl.String, "VARCHAR"),
    ),
    "categories": (
        ("category_id", pl.Int64, "INTEGER"),
        ("menu_id", pl.Int64, "INTEGER"),
        ("brand_id", pl.Int64, "INTEGER"),
        ("name", pl.String, "VARCHAR"),
    ),
    "items": (
        ("item_id", pl.Int64, "INTEGER"),
        ("category_id", pl.Int64, "INTEGER"),
        ("menu_id", pl.Int64, "INTEGER"),
        ("brand_id", pl.Int64, "INTEGER"),
        ("name", pl.String, "VARCHAR"),
        ("description", pl.String, "VARCHAR"),
        ("price", pl.Float64, "DOUBLE"),
    ),
    "locations": (
        ("location_id", pl.Int64, "INTEGER"),
        ("location_code", pl.String, "VARCHAR"),
        ("name", pl.String, "VARCHAR"),
        ("address", pl.String, "VARCHAR"),
        ("lat", pl.Float64, "DOUBLE"),
        ("lon", pl.Float64, "DOUBLE"),
        ("narrative", pl.String, "VARCHAR"),
        ("base_orders_day", pl.Int64, "INTEGER"),
        ("growth_rate_daily", pl.Float64, "DOUBLE"),
    ),
}
#: the tables of the menu (those the generator's orders refer to); locations are not among them
MENU_TABLES = ("brands", "menus", "categories", "items")


def catalog_dir(home_root: Path) -> Path:
    return Path(home_root) / "catalog"


def schema(name: str) -> dict[str, type[pl.DataType]]:
    return {column: dtype for column, dtype, _ in TABLES[name]}


def seeded(home_root: Path) -> tuple[str, ...]:
    """The tables the home's catalog holds (seeded from a dataset), in TABLES order."""
    folder = catalog_dir(home_root)
    return tuple(name for name in TABLES if (folder / f"{name}.csv").is_file())


def table_file(home_root: Path, name: str) -> Path | None:
    """Where simulator.<name> comes from: the home's file, else the shipped seed (None: no rows)."""
    own = catalog_dir(home_root) / f"{name}.csv"
    if own.is_file():
        return own
    return seeds_dir() / f"{name}.csv" if name in MENU_TABLES else None


def read_table(home_root: Path, name: str) -> pl.DataFrame:
    """The rows of simulator.<name> (see table_file), typed as TABLES says."""
    path = table_file(home_root, name)
    if path is None:
        return pl.DataFrame(schema=schema(name))
    try:
        return pl.read_csv(path, schema=schema(name))
    except (OSError, pl.exceptions.PolarsError) as exc:
        first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise CasperError(f"{path}: cannot read the catalog table: {first_line}") from None


def location_codes(home_root: Path) -> dict[int, str]:
    """The home's location_id -> location_code mapping (empty unless seeded)."""
    if catalog_dir(home_root).joinpath("locations.csv").is_file():
        frame = read_table(home_root, "locations").drop_nulls(["location_id", "location_code"])
        return dict(
            zip(frame["location_id"].to_list(), frame["location_code"].to_list(), strict=True)
        )
    return {}


def digest(home_root: Path) -> str:
    """A fingerprint of the home's catalog files ("shipped" when it has none): the simulator models
    name it, so SQLMesh rebuilds them when a seeding changes what they hold."""
    names = seeded(home_root)
    if not names:
        return "shipped"
    hasher = hashlib.sha256()
    for name in names:
        hasher.update(name.encode() + b"\0")
        hasher.update((catalog_dir(home_root) / f"{name}.csv").read_bytes())
        hasher.update(b"\0")
    return hasher.hexdigest()[:16]


def conform(frame: pl.DataFrame, name: str) -> pl.DataFrame:
    """`frame` with exactly the table's columns, typed (a column it lacks is all null)."""
    return frame.select(
        pl.col(column).cast(dtype) if column in frame.columns else pl.lit(None, dtype).alias(column)
        for column, dtype, _ in TABLES[name]
    )


def encode(frame: pl.DataFrame, name: str) -> bytes:
    """A table's CSV file, as the home's catalog holds it."""
    return conform(frame, name).write_csv().encode("utf-8")


def write_tables(home_root: Path, frames: dict[str, pl.DataFrame], source: str) -> list[str]:
    """Seed the home's catalog with `frames` (name -> rows with TABLES' columns). A table the home
    already holds must be identical; returns the tables newly written."""
    folder = catalog_dir(home_root)
    payloads = {name: encode(frame, name) for name, frame in frames.items()}
    for name, payload in payloads.items():
        path = folder / f"{name}.csv"
        if path.is_file() and path.read_bytes() != payload:
            raise CasperError(
                f"{source}: its {name} differ from those this home was seeded with ({path}): "
                "orders already landed here would join other names; replay it into another --home"
            )
    written = []
    for name, payload in payloads.items():
        path = folder / f"{name}.csv"
        if path.is_file():
            continue
        folder.mkdir(parents=True, exist_ok=True)
        temporary = folder / f".{name}.csv.tmp"
        temporary.write_bytes(payload)
        temporary.replace(path)
        written.append(name)
    return written
