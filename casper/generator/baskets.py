"""What each order contains: brands by momentum, then items and quantities (SPEC.md section 1)."""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np

from casper.config import LocationConfig

SINGLE_BRAND_SHARE = 0.70
MULTI_BRAND_CHOICES = (2, 3, 4)
ITEMS_PER_BRAND = (1, 4)  # distinct items per brand, inclusive
QTY_RANGE = (1, 3)  # inclusive

IMPROVING, FLAT, DECLINING = 0, 1, 2


@dataclass(frozen=True)
class MenuArrays:
    """The catalog as arrays, items grouped by brand, ready for vectorised sampling."""

    brand_ids: np.ndarray  # (B,)
    brand_item_offsets: np.ndarray  # (B + 1,) CSR into the item arrays
    item_ids: np.ndarray  # (I,) grouped by brand
    item_prices: np.ndarray  # (I,)
    item_json_prefix: np.ndarray  # (I,) str: '{"id": .., ..., "price": .., "qty": '

    @classmethod
    def from_catalog(cls, catalog) -> MenuArrays:
        items = catalog.items.sort(["brand_id", "item_id"])
        brand_ids = np.sort(catalog.brands["brand_id"].to_numpy())
        per_brand = np.searchsorted(items["brand_id"].to_numpy(), brand_ids, side="right")
        offsets = np.concatenate([[0], per_brand]).astype(np.int64)
        prefixes = [
            json.dumps(
                {
                    "id": int(row["item_id"]),
                    "category_id": int(row["category_id"]),
                    "menu_id": int(row["menu_id"]),
                    "brand_id": int(row["brand_id"]),
                    "name": row["name"],
                    "price": float(row["price"]),
                }
            )[:-1]
            + ', "qty": '
            for row in items.iter_rows(named=True)
        ]
        return cls(
            brand_ids=brand_ids,
            brand_item_offsets=offsets,
            item_ids=items["item_id"].to_numpy(),
            item_prices=items["price"].to_numpy(),
            item_json_prefix=np.array(prefixes, dtype=object),
        )

    @property
    def brand_count(self) -> int:
        return int(self.brand_ids.size)


def momentum_classes(
    rng: np.random.Generator, config: LocationConfig, brand_count: int
) -> np.ndarray:
    """Split brands into improving / flat / declining by the config's fractions, fixed per location."""
    shares = config.brand_momentum
    improving = round(shares.improving * brand_count)
    flat = min(brand_count - improving, round(shares.flat * brand_count))
    classes = np.full(brand_count, DECLINING, dtype=np.int8)
    order = rng.permutation(brand_count)
    classes[order[:improving]] = IMPROVING
    classes[order[improving : improving + flat]] = FLAT
    return classes


def brand_weights(
    config: LocationConfig,
    menu: MenuArrays,
    classes: np.ndarray,
    popularity: np.ndarray,
    day_index: int,
) -> np.ndarray:
    """Each brand's relative pull on a given day: popularity x momentum, 0 before launch or after exit."""
    months = day_index / 30.0
    rates = config.momentum_rates
    momentum = np.select(
        [classes == IMPROVING, classes == DECLINING],
        [(1.0 + rates.growth) ** months, (1.0 - rates.decline) ** months],
        default=1.0,
    )
    weights = popularity * momentum
    for change in config.brand_lifecycle:
        position = np.searchsorted(menu.brand_ids, change.brand_id)
        if position >= menu.brand_count or menu.brand_ids[position] != change.brand_id:
            continue  # a brand the catalog does not have sells nothing anyway
        launched = change.launch_day is None or day_index >= change.launch_day
        exited = change.exit_day is not None and day_index >= change.exit_day
        if not launched or exited:
            weights[position] = 0.0
    return weights


def _top_k_per_row(rng: np.random.Generator, log_weights: np.ndarray, k: np.ndarray) -> np.ndarray:
    """Weighted sampling without replacement, k[i] picks in row i (Gumbel top-k); -1 pads."""
    keys = log_weights - np.log(-np.log(rng.random(log_weights.shape)))
    ranked = np.argsort(-keys, axis=1, kind="stable")
    width = ranked.shape[1]
    take = np.arange(width)[None, :] < k[:, None]
    return np.where(take, ranked, -1)


@dataclass(frozen=True)
class Baskets:
    """One row per ordered line: the order it belongs to, the item (row in MenuArrays), the qty."""

    order_index: np.ndarray
    item_row: np.ndarray
    qty: np.ndarray


def draw_baskets(
    rng: np.random.Generator, menu: MenuArrays, weights: np.ndarray, order_count: int
) -> Baskets:
    active = int((weights > 0).sum())
    if order_count == 0 or active == 0:
        empty = np.zeros(0, dtype=np.int64)
        return Baskets(empty, empty, empty)
    multi = rng.random(order_count) >= SINGLE_BRAND_SHARE
    brands_per_order = np.where(multi, rng.choice(MULTI_BRAND_CHOICES, size=order_count), 1)
    brands_per_order = np.minimum(brands_per_order, active)
    with np.errstate(divide="ignore"):
        log_weights = np.broadcast_to(np.log(weights), (order_count, menu.brand_count))
    picked = _top_k_per_row(rng, log_weights, brands_per_order)
    order_of_pick, slot = np.nonzero(picked >= 0)
    brand_pos = picked[order_of_pick, slot]

    # distinct items per (order, brand), uniform among the brand's items
    starts = menu.brand_item_offsets[brand_pos]
    sizes = menu.brand_item_offsets[brand_pos + 1] - starts
    wanted = np.minimum(
        rng.integers(ITEMS_PER_BRAND[0], ITEMS_PER_BRAND[1] + 1, brand_pos.size), sizes
    )
    widest = int(sizes.max())
    slots = np.arange(widest)[None, :]
    uniform = np.where(slots < sizes[:, None], 0.0, -np.inf)
    chosen = _top_k_per_row(rng, uniform, wanted)
    pick_of_line, line_slot = np.nonzero(chosen >= 0)
    item_row = starts[pick_of_line] + chosen[pick_of_line, line_slot]
    qty = rng.integers(QTY_RANGE[0], QTY_RANGE[1] + 1, item_row.size)
    return Baskets(order_index=order_of_pick[pick_of_line], item_row=item_row, qty=qty)
