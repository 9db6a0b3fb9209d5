"""The shipped menu catalog, and the loader's refusal of broken ones."""

from __future__ import annotations

import csv
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest

from casper.catalog import MIN_ITEMS_PER_BRAND, Catalog, CatalogError, load_catalog
from casper.resources import seeds_dir

FILES = ("brands", "menus", "categories", "items")
HEADERS = {
    "brands": "brand_id,name,cuisine,description",
    "menus": "menu_id,brand_id,name",
    "categories": "category_id,menu_id,brand_id,name",
    "items": "item_id,category_id,menu_id,brand_id,name,description,price",
}


# --- the shipped catalog -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


def test_default_catalog_is_cached(catalog: Catalog) -> None:
    assert load_catalog() is catalog


def test_explicit_directory_gives_the_same_data(catalog: Catalog) -> None:
    fresh = load_catalog(seeds_dir())
    assert fresh is not catalog
    for name in FILES:
        assert getattr(fresh, name).equals(getattr(catalog, name))


def test_dtypes(catalog: Catalog) -> None:
    for name in FILES:
        for column, dtype in getattr(catalog, name).schema.items():
            if column.endswith("_id"):
                assert dtype == pl.Int64, (name, column)
            elif column == "price":
                assert dtype == pl.Float64
            else:
                assert dtype == pl.Utf8, (name, column)


def test_counts(catalog: Catalog) -> None:
    assert catalog.brands.height >= 20
    assert 160 <= catalog.items.height <= 200
    assert catalog.menus.height == catalog.brands.height
    assert catalog.menus["brand_id"].sort().to_list() == catalog.brands["brand_id"].sort().to_list()

    per_menu = catalog.categories.group_by("menu_id").len()
    assert per_menu.height == catalog.menus.height
    assert per_menu["len"].is_between(3, 6).all()

    per_brand = catalog.items.group_by("brand_id").len()
    assert per_brand.height == catalog.brands.height
    assert per_brand["len"].min() >= 6

    per_category = catalog.items.group_by("category_id").len()
    assert per_category.height == catalog.categories.height


def test_ids_start_at_one_and_are_unique(catalog: Catalog) -> None:
    for name in FILES:
        ids = getattr(catalog, name).get_column(HEADERS[name].split(",")[0])
        assert ids.min() == 1
        assert ids.n_unique() == ids.len()


def test_foreign_keys_resolve(catalog: Catalog) -> None:
    items = catalog.items.join(
        catalog.categories, on="category_id", how="inner", suffix="_category"
    )
    assert items.height == catalog.items.height
    assert (items["menu_id"] == items["menu_id_category"]).all()
    assert (items["brand_id"] == items["brand_id_category"]).all()

    categories = catalog.categories.join(catalog.menus, on="menu_id", suffix="_menu")
    assert categories.height == catalog.categories.height
    assert (categories["brand_id"] == categories["brand_id_menu"]).all()

    assert catalog.menus.join(catalog.brands, on="brand_id").height == catalog.menus.height


def test_cuisines_and_names_are_distinct(catalog: Catalog) -> None:
    assert catalog.brands["cuisine"].n_unique() == catalog.brands.height
    assert catalog.brands["name"].n_unique() == catalog.brands.height
    assert catalog.items.select("brand_id", "name").is_unique().all()


def test_prices_are_plausible(catalog: Catalog) -> None:
    prices = catalog.items["price"]
    assert (prices > 0).all()
    assert prices.max() < 40
    assert ((prices * 100).round(6) % 1 == 0).all()

    drinks = catalog.items.join(
        catalog.categories.filter(pl.col("name") == "Drinks").select("category_id"),
        on="category_id",
    )
    assert drinks.height >= 10
    assert drinks["price"].is_between(2, 6).all()


@pytest.mark.parametrize("name", FILES)
def test_files_are_plain_utf8_csv(name: str) -> None:
    raw = (seeds_dir() / f"{name}.csv").read_bytes()
    text = raw.decode("utf-8")
    assert b"\r" not in raw
    assert text.endswith("\n") and not text.endswith("\n\n")
    assert text.splitlines()[0] == HEADERS[name]
    with (seeds_dir() / f"{name}.csv").open(encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    width = len(rows[0])
    for row in rows[1:]:
        assert len(row) == width, row
        for field in row:
            assert field and field == field.strip(), row
            assert not re.search(r'["\\\n]', field), row
    if name == "items":
        assert all(re.fullmatch(r"\d+\.\d\d", row[-1]) for row in rows[1:])


# --- broken catalogs ------------------------------------------------------------------------------

Rows = dict[str, list[dict[str, str]]]


def _read_all(directory: Path) -> Rows:
    rows: Rows = {}
    for name in FILES:
        with (directory / f"{name}.csv").open(encoding="utf-8", newline="") as f:
            rows[name] = list(csv.DictReader(f))
    return rows


def _write(directory: Path, name: str, rows: list[dict[str, str]]) -> None:
    with (directory / f"{name}.csv").open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=HEADERS[name].split(","), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def _items_of(rows: Rows, brand_id: str) -> list[dict[str, str]]:
    return [item for item in rows["items"] if item["brand_id"] == brand_id]


def missing_category(rows: Rows) -> None:
    rows["items"][4]["category_id"] = "999"


def duplicate_item_id(rows: Rows) -> None:
    rows["items"][7]["item_id"] = rows["items"][3]["item_id"]


def negative_price(rows: Rows) -> None:
    rows["items"][10]["price"] = "-4.50"


def zero_price(rows: Rows) -> None:
    rows["items"][10]["price"] = "0.00"


def one_decimal_price(rows: Rows) -> None:
    rows["items"][10]["price"] = "4.5"


def brand_with_three_items(rows: Rows) -> None:
    # Keep one item in three of brand 1's categories and drop its other categories, so the only
    # thing wrong is the item count.
    keep_categories = [c["category_id"] for c in rows["categories"] if c["brand_id"] == "1"][:3]
    keep_items = [
        next(i for i in rows["items"] if i["category_id"] == c)["item_id"] for c in keep_categories
    ]
    rows["categories"] = [
        c for c in rows["categories"] if c["brand_id"] != "1" or c["category_id"] in keep_categories
    ]
    rows["items"] = [i for i in rows["items"] if i["brand_id"] != "1" or i["item_id"] in keep_items]


def item_brand_disagrees_with_category(rows: Rows) -> None:
    rows["items"][0]["brand_id"] = "2"


def category_menu_disagrees_with_brand(rows: Rows) -> None:
    rows["categories"][0]["brand_id"] = "2"


def menu_for_missing_brand(rows: Rows) -> None:
    rows["menus"][0]["brand_id"] = "999"


def brand_without_menu(rows: Rows) -> None:
    next_id = str(max(int(b["brand_id"]) for b in rows["brands"]) + 1)
    rows["brands"].append({**rows["brands"][0], "brand_id": next_id, "name": "Ghost Brand"})


def second_menu_for_a_brand(rows: Rows) -> None:
    next_id = str(max(int(m["menu_id"]) for m in rows["menus"]) + 1)
    rows["menus"].append({"menu_id": next_id, "brand_id": "1", "name": "Late Night Menu"})


def empty_category(rows: Rows) -> None:
    next_id = str(max(int(c["category_id"]) for c in rows["categories"]) + 1)
    rows["categories"].append(
        {"category_id": next_id, "menu_id": "1", "brand_id": "1", "name": "Soon"}
    )


def non_integer_id(rows: Rows) -> None:
    rows["brands"][2]["brand_id"] = "3a"


def id_zero(rows: Rows) -> None:
    rows["brands"][0]["brand_id"] = "0"


def blank_name(rows: Rows) -> None:
    rows["items"][5]["name"] = ""


def padded_name(rows: Rows) -> None:
    rows["menus"][1]["name"] = " Padded Menu"


def quote_in_description(rows: Rows) -> None:
    rows["items"][6]["description"] = 'The "best" one'


BROKEN: list[tuple[Callable[[Rows], None], str]] = [
    (missing_category, r"items\.csv: item_id 5: category_id 999 not found in categories\.csv"),
    (duplicate_item_id, r"items\.csv: duplicate item_id 4"),
    (negative_price, r"items\.csv: item_id 11: price is '-4\.50'"),
    (zero_price, r"items\.csv: item_id 11: price must be greater than 0"),
    (one_decimal_price, r"items\.csv: item_id 11: price is '4\.5', expected .* two decimals"),
    (brand_with_three_items, r"items\.csv: brand_id 1 has 3 items, at least 4 required"),
    (
        item_brand_disagrees_with_category,
        r"items\.csv: item_id 1: category_id 1, menu_id 1, brand_id 2 inconsistent with categories",
    ),
    (
        category_menu_disagrees_with_brand,
        r"categories\.csv: category_id 1: menu_id 1, brand_id 2 inconsistent with menus\.csv",
    ),
    (menu_for_missing_brand, r"menus\.csv: menu_id 1: brand_id 999 not found in brands\.csv"),
    (brand_without_menu, r"brands\.csv: brand_id \d+ has no menu"),
    (second_menu_for_a_brand, r"menus\.csv: brand_id 1 has more than one menu"),
    (empty_category, r"categories\.csv: category_id \d+ has no items"),
    (non_integer_id, r"brands\.csv: line 4: brand_id is '3a', not a whole number"),
    (id_zero, r"brands\.csv: brand_id 0: ids start at 1"),
    (blank_name, r"items\.csv: item_id 6: name is empty"),
    (padded_name, r"menus\.csv: menu_id 2: name has leading or trailing spaces"),
    (quote_in_description, r"items\.csv: item_id 7: description contains a quote"),
]


@pytest.fixture
def seeds_copy(tmp_path: Path) -> Path:
    for name in FILES:
        shutil.copy(seeds_dir() / f"{name}.csv", tmp_path)
    return tmp_path


def test_unbroken_copy_loads(seeds_copy: Path) -> None:
    rows = _read_all(seeds_copy)
    for name in FILES:
        _write(seeds_copy, name, rows[name])
    assert load_catalog(seeds_copy).items.height == len(rows["items"])


@pytest.mark.parametrize(("breakage", "message"), BROKEN, ids=[b.__name__ for b, _ in BROKEN])
def test_broken_catalog_is_rejected(
    seeds_copy: Path, breakage: Callable[[Rows], None], message: str
) -> None:
    rows = _read_all(seeds_copy)
    breakage(rows)
    for name in FILES:
        _write(seeds_copy, name, rows[name])
    with pytest.raises(CatalogError, match=message) as excinfo:
        load_catalog(seeds_copy)
    assert "\n" not in str(excinfo.value)
    assert str(seeds_copy) in str(excinfo.value)


def test_catalog_error_is_a_value_error() -> None:
    assert issubclass(CatalogError, ValueError)
    assert MIN_ITEMS_PER_BRAND == 4


def test_missing_file(seeds_copy: Path) -> None:
    (seeds_copy / "menus.csv").unlink()
    with pytest.raises(CatalogError, match=r"menus\.csv: file not found"):
        load_catalog(seeds_copy)


def test_wrong_header(seeds_copy: Path) -> None:
    path = seeds_copy / "brands.csv"
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    path.write_text("brand_id,name,kitchen,description\n" + "".join(lines[1:]), encoding="utf-8")
    with pytest.raises(CatalogError, match=r"brands\.csv: header is brand_id,name,kitchen"):
        load_catalog(seeds_copy)


def test_ragged_row(seeds_copy: Path) -> None:
    with (seeds_copy / "menus.csv").open("a", encoding="utf-8") as f:
        f.write("99,1,Extra,unexpected\n")
    with pytest.raises(CatalogError, match=r"menus\.csv: not a readable CSV file"):
        load_catalog(seeds_copy)
