"""Training the rule model on delivered orders, and the figures MLflow records about it."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import numpy as np
import pandas as pd

from casper.errors import CasperError
from casper.refunds.model import REFUND_CLASSES, DeliveryRefundModel


class NotEnoughDataError(CasperError):
    pass


def evaluate(recommended: pd.DataFrame) -> dict[str, float]:
    """Class shares, total suggested USD and the share of orders refunded."""
    total = max(1, len(recommended))
    shares = {
        f"share_{c}": float((recommended["refund_class"] == c).sum() / total)
        for c in REFUND_CLASSES
    }
    return {
        **shares,
        "suggested_usd_total": float(np.round(recommended["refund_usd"].sum(), 2)),
        "refunded_share": float((recommended["refund_class"] != "none").sum() / total),
        "orders_evaluated": float(len(recommended)),
    }


def train_rule_model(
    delivered: pd.DataFrame,
    *,
    window_days: float,
    location_titles: dict[str, str],
    min_orders: int = 20,
) -> tuple[DeliveryRefundModel, dict[str, Any], dict[str, float], dict[str, Any]]:
    """Fit on the window's delivered orders: (estimator, params, metrics, documents for MLflow)."""
    estimator = DeliveryRefundModel(min_orders=min_orders, location_titles=location_titles)
    try:
        estimator.fit(delivered[["location", "delivery_minutes", "order_total"]])
    except ValueError as exc:
        raise NotEnoughDataError(
            f"cannot train the refund model: {exc} (generate history and run `casper pipeline` first)"
        ) from None
    metrics = evaluate(
        estimator.recommend(delivered[["location", "delivery_minutes", "order_total"]])
    )
    for location, t in estimator.thresholds_.items():
        metrics |= {f"p50_{location}": t.p50, f"p75_{location}": t.p75, f"p99_{location}": t.p99}
    params = {
        "kind": "rule",
        "window_days": window_days,
        "min_orders": min_orders,
        "partial_min_share": estimator.partial_min_share,
        "partial_max_share": estimator.partial_max_share,
        "training_orders": len(delivered),
        "locations_with_own_thresholds": ",".join(sorted(estimator.thresholds_)),
    }
    documents = {
        "thresholds.json": {
            "per_location": {k: asdict(v) for k, v in estimator.thresholds_.items()},
            "all_locations": asdict(estimator.global_thresholds_),
        }
    }
    return estimator, params, metrics, documents
