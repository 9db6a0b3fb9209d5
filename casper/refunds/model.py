"""The refund model: per-location delivery-time percentiles learned from delivered orders.

Rules (SPEC.md section 4): no refund at or below the location's P75; a partial refund between P75 and
P99 that grows with lateness; a full refund (the order total) above P99. A location never seen in
training falls back to every location's figures.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted, validate_data

from casper.refunds import REFUND_CLASSES

ALL_LOCATIONS = "all-locations"


@dataclass(frozen=True)
class Thresholds:
    p50: float
    p75: float
    p99: float
    orders: int


def round_cents(amount) -> np.ndarray:
    """Money to the cent, halves up (as a person rounds), not to even."""
    return np.floor(np.asarray(amount, dtype=float) * 100.0 + 0.5 + 1e-9) / 100.0


def _columns(X) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(delivery minutes, order totals, locations) from a frame with named columns, or a 2-D array
    whose first column is delivery minutes and optional second column the order total."""
    if isinstance(X, pd.DataFrame) and "delivery_minutes" in X.columns:
        minutes = X["delivery_minutes"].to_numpy(dtype=float)
        totals = (
            X["order_total"].to_numpy(dtype=float)
            if "order_total" in X
            else np.full(len(X), np.nan)
        )
        locations = X["location"].astype(str).to_numpy() if "location" in X else np.full(len(X), "")
        return minutes, totals, locations
    array = np.asarray(X, dtype=float)
    totals = array[:, 1] if array.shape[1] > 1 else np.full(len(array), np.nan)
    return array[:, 0], totals, np.full(len(array), "")


class DeliveryRefundModel(BaseEstimator):
    """Learns P50/P75/P99 of delivery minutes per location; predicts refund class, amount and reason.

    Parameters
    ----------
    min_orders : a location needs this many delivered orders for its own percentiles; fewer and it
        uses every location's.
    partial_min_share, partial_max_share : a partial refund is this share of the order total just past
        P75, growing linearly to the max share at P99.
    location_titles : how reasons name locations ({"sanfrancisco": "San Francisco"}).
    """

    def __init__(
        self,
        min_orders: int = 20,
        partial_min_share: float = 0.10,
        partial_max_share: float = 0.50,
        location_titles: dict[str, str] | None = None,
    ) -> None:
        self.min_orders = min_orders
        self.partial_min_share = partial_min_share
        self.partial_max_share = partial_max_share
        self.location_titles = location_titles

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = False  # it learns from delivery times alone, no labels
        tags.non_deterministic = False
        return tags

    def fit(self, X, y=None):
        if isinstance(X, pd.DataFrame) and "delivery_minutes" in X.columns:
            self.n_features_in_ = X.shape[1]
            minutes, _, locations = _columns(X)
        else:
            array = validate_data(self, X, reset=True, ensure_min_samples=1)
            minutes, _, locations = _columns(array)
        usable = np.isfinite(minutes) & (minutes >= 0)
        minutes, locations = minutes[usable], locations[usable]
        if minutes.size < self.min_orders:
            raise ValueError(
                f"need at least {self.min_orders} delivered orders to learn delivery percentiles, "
                f"got {minutes.size}"
            )
        self.global_thresholds_ = self._percentiles(minutes)
        self.thresholds_ = {
            str(location): self._percentiles(minutes[locations == location])
            for location in np.unique(locations)
            if location and (locations == location).sum() >= self.min_orders
        }
        self.classes_ = np.array(REFUND_CLASSES, dtype=object)
        return self

    @staticmethod
    def _percentiles(minutes: np.ndarray) -> Thresholds:
        p50, p75, p99 = np.percentile(minutes, [50, 75, 99])
        return Thresholds(float(p50), float(p75), float(p99), int(minutes.size))

    def thresholds_for(self, location: str) -> tuple[Thresholds, bool]:
        """The location's thresholds, and whether they are its own (not the all-locations fallback)."""
        check_is_fitted(self, "global_thresholds_")
        own = self.thresholds_.get(location)
        return (own, True) if own is not None else (self.global_thresholds_, False)

    def _decide(self, X) -> pd.DataFrame:
        check_is_fitted(self, "global_thresholds_")
        if not (isinstance(X, pd.DataFrame) and "delivery_minutes" in X.columns):
            X = validate_data(self, X, reset=False)
        minutes, totals, locations = _columns(X)
        picked = [self.thresholds_for(str(location)) for location in locations]
        p75 = np.array([t.p75 for t, _ in picked])
        p99 = np.array([t.p99 for t, _ in picked])
        full = minutes > p99
        partial = (minutes > p75) & ~full
        span = np.where(p99 > p75, p99 - p75, 1.0)
        growth = np.clip((minutes - p75) / span, 0.0, 1.0)
        share = np.round(
            self.partial_min_share + (self.partial_max_share - self.partial_min_share) * growth, 2
        )
        amount = np.where(
            full, totals, np.where(partial, np.minimum(totals, round_cents(share * totals)), 0.0)
        )
        severity = np.where(full, 2, np.where(partial, 1, 0))
        refund_class = np.array(REFUND_CLASSES, dtype=object)[severity]
        reasons = [
            self._reason(c, m, t, s, a, str(loc), own)
            for c, m, t, s, a, loc, (_, own) in zip(
                refund_class, minutes, totals, share, amount, locations, picked, strict=True
            )
        ]
        return pd.DataFrame(
            {
                "severity": severity,
                "refund_class": refund_class,
                "refund_usd": round_cents(amount),
                "reason": reasons,
                "p75": p75,
                "p99": p99,
            },
            index=X.index if isinstance(X, pd.DataFrame) else None,
        )

    def _reason(self, refund_class, minutes, total, share, amount, location, own) -> str:
        thresholds = self.thresholds_.get(location) if own else self.global_thresholds_
        place = (self.location_titles or {}).get(location, location) if own else ALL_LOCATIONS
        order = f"the ${total:,.2f} order" if np.isfinite(total) else "the order"
        if refund_class == "none":
            return (
                f"Delivered in {minutes:.1f} min, within the {place} P75 of {thresholds.p75:.1f} min: "
                f"no refund."
            )
        if refund_class == "partial":
            return (
                f"Delivered {minutes - thresholds.p75:.1f} min after the {place} P75 of "
                f"{thresholds.p75:.1f} min: partial refund of {share:.0%} of {order}."
            )
        return (
            f"Delivered in {minutes:.1f} min, {minutes - thresholds.p99:.1f} min past the {place} P99 of "
            f"{thresholds.p99:.1f} min: full refund of {order}."
        )

    def predict(self, X) -> np.ndarray:
        """The refund severity of each order: 0 none, 1 partial, 2 full (an index into classes_)."""
        return self._decide(X)["severity"].to_numpy()

    def recommend(self, X) -> pd.DataFrame:
        """refund_class, refund_usd and reason for each delivered order (plus the P75/P99 used)."""
        return self._decide(X)
