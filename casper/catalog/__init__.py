"""The menu catalog: brands, their menus, menu categories and items with prices.

The same four CSV files are the warehouse's simulator tables (models/macros/catalog.py, unless a
home's catalog was seeded from a replayed dataset: casper.catalog.home), so whatever reads them here
must agree with what the warehouse sees; `load_catalog` therefore checks them strictly and fails
loudly on the first problem.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from casper.resources import seeds_dir

__all__ = ["MIN_ITEMS_PER_BRAND", "Catalog", "CatalogError", "load_catalog"]

# No real delivery menu is this short; a brand under it almost always means rows lost in an edit.
MIN_ITEMS_PER_BRAND = 4

# Each file's header must be exactly these columns in this order (the seed models rely on the
# names); the first column is the file's id, which error messages use to point at the bad row.
_SCHEMAS: dict[str, dict[str, type[pl.DataType]]] = {
    "brands": {"brand_id": pl.Int64, "name": pl.Utf8, "cuisine": pl.Utf8, "description": pl.Utf8},
    "menus": {"menu_id": pl.Int64, "brand_id": pl.Int64, "name": pl.Utf8},
    "categories": {
        "category_id": pl.Int64,
        "menu_id": pl.Int64,
        "brand_id": pl.Int64,
        "name": pl.Utf8,
    },
    "items": {
        "item_id": pl.Int64,
        "category_id": pl.Int64,
        "menu_id": pl.Int64,
        "brand_id": pl.Int64,
        "name": pl.Utf8,
        "description": pl.Utf8,
        "price": pl.Float64,
    },
}

# Checked on the raw text: once parsed as a float, "9.5" and "9.50" are indistinguishable.
_PRICE = re.compile(r"\d+\.\d{2}")
# Quotes and backslashes survive CSV parsing but break SQL literals and naive exporters downstream.
_FORBIDDEN = re.compile(r'["\\\r\n]')


class CatalogError(ValueError):
    """The catalog files are malformed or inconsistent; the message names the file and the row."""


# eq=False: DataFrames have no boolean equality, and a cached catalog is compared by identity anyway.
@dataclass(frozen=True, eq=False)
class Catalog:
    brands: pl.DataFrame
    menus: pl.DataFrame
    categories: pl.DataFrame
    items: pl.DataFrame


def load_catalog(directory: Path | None = None) -> Catalog:
    """Read and validate the catalog in `directory` (default: the shipped seeds, read once)."""
    if directory is None:
        return _load_shipped()
    return _load(Path(directory))


@functools.lru_cache(maxsize=1)
def _load_shipped() -> Catalog:
    return _load(seeds_dir())


def _load(directory: Path) -> Catalog:
    frames = {name: _read(directory, name) for name in _SCHEMAS}
    _check_references(frames, directory)
    return Catalog(**frames)


def _fail(directory: Path, name: str, message: str) -> CatalogError:
    return CatalogError(f"{directory / f'{name}.csv'}: {message}")


def _read(directory: Path, name: str) -> pl.DataFrame:
    path, schema = directory / f"{name}.csv", _SCHEMAS[name]
    key = next(iter(schema))
    if not path.is_file():
        raise _fail(directory, name, "file not found")
    try:
        # All text first, so a bad value is reported by its row rather than as a parse error.
        raw = pl.read_csv(path, infer_schema=False)
    except pl.exceptions.PolarsError as exc:
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise _fail(directory, name, f"not a readable CSV file ({reason})") from None
    if raw.columns != list(schema):
        raise _fail(
            directory, name, f"header is {','.join(raw.columns)}, expected {','.join(schema)}"
        )
    if raw.is_empty():
        raise _fail(directory, name, "no rows")

    for line, row in enumerate(raw.iter_rows(named=True), start=2):
        # Name the row by its id when the id itself is sound, else by its line in the file.
        ident = row[key] or ""
        where = f"{key} {ident}" if ident.isascii() and ident.isdigit() else f"line {line}"
        for column, value in row.items():
            if not value:
                problem = "is empty"
            elif value != value.strip():
                problem = "has leading or trailing spaces"
            elif _FORBIDDEN.search(value):
                problem = "contains a quote, backslash or line break"
            elif schema[column] == pl.Int64 and not (value.isascii() and value.isdigit()):
                problem = f"is {value!r}, not a whole number"
            elif column == "price" and not _PRICE.fullmatch(value):
                problem = f"is {value!r}, expected a positive amount with two decimals like 9.50"
            else:
                continue
            raise _fail(directory, name, f"{where}: {column} {problem}")

    try:
        frame = raw.cast(schema)
    except pl.exceptions.PolarsError:
        raise _fail(directory, name, "an id is too large for a 64-bit integer") from None
    if "price" in schema and (bad := frame.filter(pl.col("price") <= 0)).height:
        raise _fail(directory, name, f"{key} {bad[key][0]}: price must be greater than 0")
    if (bad := frame.filter(pl.col(key) < 1)).height:
        raise _fail(directory, name, f"{key} {bad[key][0]}: ids start at 1")
    if (bad := frame.filter(pl.col(key).is_duplicated())).height:
        raise _fail(directory, name, f"duplicate {key} {bad[key][0]}")
    return frame


# (child, parent, columns of a child row that must match one parent row). The single-column
# checks come first so a dangling id is reported as such, not as a mismatch.
_REFERENCES = [
    ("menus", "brands", ["brand_id"]),
    ("categories", "menus", ["menu_id"]),
    ("categories", "menus", ["menu_id", "brand_id"]),
    ("items", "categories", ["category_id"]),
    ("items", "categories", ["category_id", "menu_id", "brand_id"]),
]


def _check_references(frames: dict[str, pl.DataFrame], directory: Path) -> None:
    # Children repeat their ancestors' ids so SQL needs fewer joins; those copies must agree.
    for child, parent, columns in _REFERENCES:
        key = next(iter(_SCHEMAS[child]))
        parents = frames[parent].select(columns).unique()
        bad = frames[child].join(parents, on=columns, how="anti").sort(key)
        if bad.height:
            row = bad.row(0, named=True)
            refs = ", ".join(f"{c} {row[c]}" for c in columns)
            problem = "not found in" if len(columns) == 1 else "inconsistent with"
            raise _fail(directory, child, f"{key} {row[key]}: {refs} {problem} {parent}.csv")

    brands, menus, categories, items = (frames[n] for n in _SCHEMAS)
    # A brand's menu is looked up by brand_id, which only works if each brand has exactly one.
    if (bad := menus.filter(pl.col("brand_id").is_duplicated())).height:
        raise _fail(directory, "menus", f"brand_id {bad['brand_id'][0]} has more than one menu")
    if (bad := brands.join(menus, on="brand_id", how="anti")).height:
        raise _fail(directory, "brands", f"brand_id {bad['brand_id'][0]} has no menu in menus.csv")
    if (bad := categories.join(items, on="category_id", how="anti")).height:
        raise _fail(directory, "categories", f"category_id {bad['category_id'][0]} has no items")

    counts = brands.join(items.group_by("brand_id").len(), on="brand_id", how="left")
    thin = counts.filter(pl.col("len").fill_null(0) < MIN_ITEMS_PER_BRAND).sort("brand_id")
    if thin.height:
        brand_id, n = thin["brand_id"][0], thin["len"][0] or 0
        raise _fail(
            directory,
            "items",
            f"brand_id {brand_id} has {n} items, at least {MIN_ITEMS_PER_BRAND} required",
        )
