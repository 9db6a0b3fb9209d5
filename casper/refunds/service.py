"""Train, register and score: what `casper refunds ...` and the pipeline's watch ticks call."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import pandas as pd

from casper.config import resolve_locations
from casper.engine import Engine
from casper.refunds import registry
from casper.refunds.learned import Comparison
from casper.refunds.learned import train_from_decisions as fit_on_decisions
from casper.refunds.training import evaluate, train_rule_model


def location_titles() -> dict[str, str]:
    return {c.location_name: c.title for c in resolve_locations("all")}


@dataclass(frozen=True)
class TrainReport:
    version: registry.RegisteredVersion
    metrics: dict[str, float]


def train(engine: Engine, *, window_days: float = 1.0, min_orders: int = 20) -> TrainReport:
    delivered = engine.warehouse().delivered_orders(window_days)
    estimator, params, metrics, documents = train_rule_model(
        delivered, window_days=window_days, location_titles=location_titles(), min_orders=min_orders
    )
    version = registry.register(
        engine.registry_target(),
        estimator,
        params=params,
        metrics=metrics,
        documents=documents,
        input_example=delivered,
    )
    return TrainReport(version, metrics)


@dataclass(frozen=True)
class ScoreReport:
    version: str
    scored: int
    unscorable: int


class ChampionScorer:
    """Scores with the champion, reloading it only when the alias moves to another version."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.target = engine.registry_target()
        self._model = None
        self._version: str | None = None

    def _champion(self):
        version = registry.champion_version(self.target)
        if version is None:
            raise registry.NoChampionError(
                f"no champion refund model in {self.target.registry_uri}: run `casper refunds train` first"
            )
        if version != self._version:
            self._model, self._version = registry.load_champion(self.target)
        return self._model, self._version

    def score_pending(self) -> ScoreReport:
        """Every delivered order the champion has not scored yet, scored once."""
        model, version = self._champion()
        added, unscorable = self.engine.score_deliveries(model, version)
        return ScoreReport(version=version, scored=added, unscorable=unscorable)


@dataclass(frozen=True)
class DecisionTrainReport:
    version: registry.RegisteredVersion
    comparison: Comparison

    @property
    def promoted(self) -> bool:
        return self.comparison.learned_wins


def latest_decisions(decisions) -> pd.DataFrame:
    """The newest decision per order (the app store keeps every one), as training labels."""
    frame = pd.DataFrame(
        [(d.order_id, d.id, d.refund_class, float(d.amount_usd)) for d in decisions],
        columns=["order_id", "id", "refund_class", "refund_usd"],
    )
    newest = frame.sort_values("id").drop_duplicates("order_id", keep="last")
    return newest.drop(columns="id").reset_index(drop=True)


def train_from_decisions(
    engine: Engine, decisions, *, window_days: float = 1.0, min_orders: int = 20
) -> DecisionTrainReport:
    """A second model trained on the manager's decisions (order_id, refund_class, refund_usd);
    registered either way, champion only if it beats the rules on held-out decisions."""
    warehouse = engine.warehouse()
    rules, *_ = train_rule_model(
        warehouse.delivered_orders(window_days),
        window_days=window_days,
        location_titles=location_titles(),
        min_orders=min_orders,
    )
    features = warehouse.order_features(decisions["order_id"].astype(str).tolist())
    decided = features.merge(decisions[["order_id", "refund_class", "refund_usd"]], on="order_id")
    learned, comparison = fit_on_decisions(rules, decided)
    metrics = {
        "learned_accuracy": comparison.learned_accuracy,
        "rule_accuracy": comparison.rule_accuracy,
        "learned_amount_mae": comparison.learned_amount_mae,
        "rule_amount_mae": comparison.rule_amount_mae,
    } | evaluate(learned.recommend(decided))
    version = registry.register(
        engine.registry_target(),
        learned,
        params={
            "kind": "learned_from_decisions",
            "decisions": len(decided),
            "train_size": comparison.train_size,
            "holdout_size": comparison.test_size,
            "window_days": window_days,
        },
        metrics=metrics,
        documents={"comparison.json": asdict(comparison)},
        input_example=decided,
        promote=comparison.learned_wins,
    )
    return DecisionTrainReport(version, comparison)
