"""A refund model that learns from the manager's decisions (the reference's agent never did).

A classifier predicts the class a manager would choose and a regressor the share of the order total
they would refund, from features such as lateness over the location's P75, order value, distance,
items, hour and location. It is promoted only if it agrees with held-out decisions more often than
the rule model does.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder
from sklearn.utils.validation import check_is_fitted

from casper.errors import CasperError
from casper.refunds.model import REFUND_CLASSES, DeliveryRefundModel, round_cents

NUMERIC_FEATURES = (
    "over_p75",
    "over_p99",
    "order_total",
    "distance_km",
    "total_items",
    "created_hour",
)
MIN_DECISIONS = 20


class NotEnoughDecisionsError(CasperError):
    pass


def _features(rules: DeliveryRefundModel, X: pd.DataFrame) -> pd.DataFrame:
    decided = rules.recommend(X)
    minutes = X["delivery_minutes"].to_numpy(dtype=float)
    frame = pd.DataFrame(
        {
            "over_p75": minutes - decided["p75"].to_numpy(),
            "over_p99": minutes - decided["p99"].to_numpy(),
            "order_total": X["order_total"].to_numpy(dtype=float),
            "location": X["location"].astype(str).to_numpy(),
        }
    )
    for optional in ("distance_km", "total_items", "created_hour"):
        frame[optional] = (
            pd.to_numeric(X[optional], errors="coerce").to_numpy(dtype=float)
            if optional in X
            else np.nan
        )
    return frame


def _with_location_encoding(model):
    encode = ColumnTransformer(
        [("location", OneHotEncoder(handle_unknown="ignore"), ["location"])],
        remainder="passthrough",
    )
    return make_pipeline(encode, model)


class DecisionRefundModel(BaseEstimator):
    """Learns refund class and amount from decided orders; `rules` supplies the percentiles."""

    def __init__(self, rules: DeliveryRefundModel | None = None, random_state: int = 0) -> None:
        self.rules = rules
        self.random_state = random_state

    def fit(self, X: pd.DataFrame, y: pd.DataFrame):
        """X: orders (location, delivery_minutes, order_total, ...); y: refund_class, refund_usd."""
        if self.rules is None:
            raise ValueError("DecisionRefundModel needs a fitted rule model for the percentiles")
        features = _features(self.rules, X)
        self.classifier_ = _with_location_encoding(
            HistGradientBoostingClassifier(random_state=self.random_state, max_iter=150)
        ).fit(features, y["refund_class"].astype(str))
        totals = np.maximum(features["order_total"].to_numpy(), 0.01)
        share = np.clip(y["refund_usd"].to_numpy(dtype=float) / totals, 0.0, 1.0)
        self.regressor_ = _with_location_encoding(
            HistGradientBoostingRegressor(random_state=self.random_state, max_iter=150)
        ).fit(features, share)
        self.decisions_ = len(features)
        return self

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return self.recommend(X)["refund_class"].to_numpy()

    def recommend(self, X: pd.DataFrame) -> pd.DataFrame:
        check_is_fitted(self, "classifier_")
        features = _features(self.rules, X)
        refund_class = self.classifier_.predict(features).astype(object)
        totals = features["order_total"].to_numpy()
        share = np.clip(self.regressor_.predict(features), 0.0, 1.0)
        amount = np.select(
            [refund_class == "none", refund_class == "full"],
            [0.0, totals],
            default=round_cents(share * totals),
        )
        amount = np.minimum(round_cents(amount), totals)
        decided = self.rules.recommend(X)
        reasons = [
            f"Delivered {over:+.1f} min against the P75 of {p75:.1f} min; past manager decisions on "
            f"similar orders suggest a {cls} refund of ${usd:,.2f} on the ${total:,.2f} order."
            for over, p75, cls, usd, total in zip(
                features["over_p75"], decided["p75"], refund_class, amount, totals, strict=True
            )
        ]
        return pd.DataFrame(
            {"refund_class": refund_class, "refund_usd": amount, "reason": reasons},
            index=X.index,
        )


@dataclass(frozen=True)
class Comparison:
    learned_accuracy: float
    rule_accuracy: float
    learned_amount_mae: float
    rule_amount_mae: float
    train_size: int
    test_size: int

    @property
    def learned_wins(self) -> bool:
        return self.learned_accuracy > self.rule_accuracy


def train_from_decisions(
    rules: DeliveryRefundModel,
    decided: pd.DataFrame,
    *,
    holdout: float = 0.25,
    random_state: int = 0,
) -> tuple[DecisionRefundModel, Comparison]:
    """Fit on decided orders (order features plus refund_class, refund_usd) and compare on a holdout."""
    decided = decided.dropna(
        subset=["delivery_minutes", "order_total", "refund_class", "refund_usd"]
    )
    decided = decided[decided["refund_class"].isin(REFUND_CLASSES)]
    if len(decided) < MIN_DECISIONS:
        raise NotEnoughDecisionsError(
            f"need at least {MIN_DECISIONS} decided orders to learn from decisions, got {len(decided)}: "
            f"review more refunds in `casper review` first"
        )
    classes = decided["refund_class"]
    stratify = classes if classes.value_counts().min() >= 2 else None
    train, test = train_test_split(
        decided, test_size=holdout, random_state=random_state, stratify=stratify
    )
    learned = DecisionRefundModel(rules=rules, random_state=random_state).fit(
        train, train[["refund_class", "refund_usd"]]
    )
    mine, theirs = learned.recommend(test), rules.recommend(test)
    truth_class, truth_usd = (
        test["refund_class"].to_numpy(),
        test["refund_usd"].to_numpy(dtype=float),
    )
    comparison = Comparison(
        learned_accuracy=float((mine["refund_class"].to_numpy() == truth_class).mean()),
        rule_accuracy=float((theirs["refund_class"].to_numpy() == truth_class).mean()),
        learned_amount_mae=float(np.abs(mine["refund_usd"].to_numpy() - truth_usd).mean()),
        rule_amount_mae=float(np.abs(theirs["refund_usd"].to_numpy() - truth_usd).mean()),
        train_size=len(train),
        test_size=len(test),
    )
    # the version registered is the one the holdout measured
    return learned, comparison
