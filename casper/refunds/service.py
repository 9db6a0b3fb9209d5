"""Train, register and score: what `casper refunds ...` and the pipeline's watch ticks call."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from casper.config import resolve_locations
from casper.refunds import registry
from casper.refunds.scoring import scorable, score_batch
from casper.refunds.training import train_rule_model


def location_titles() -> dict[str, str]:
    return {c.location_name: c.title for c in resolve_locations("all")}


@dataclass(frozen=True)
class TrainReport:
    version: registry.RegisteredVersion
    metrics: dict[str, float]
    promoted: bool


def train(engine, *, window_days: float = 1.0, min_orders: int = 20) -> TrainReport:
    delivered = engine.warehouse().delivered_orders(window_days)
    estimator, params, metrics, documents = train_rule_model(
        delivered, window_days=window_days, location_titles=location_titles(), min_orders=min_orders
    )
    version = registry.register(
        registry.RegistryTarget.of(engine),
        estimator,
        params=params,
        metrics=metrics,
        documents=documents,
        input_example=delivered,
    )
    return TrainReport(version, metrics, promoted=True)


@dataclass(frozen=True)
class ScoreReport:
    version: str
    scored: int
    unscorable: int


class ChampionScorer:
    """Scores with the champion, reloading it only when the alias moves to another version."""

    def __init__(self, engine) -> None:
        self.engine = engine
        self.target = registry.RegistryTarget.of(engine)
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
        warehouse = self.engine.warehouse()
        pending = warehouse.unscored_orders(version)
        unscorable = int((~scorable(pending)).sum()) if len(pending) else 0
        recommendations = score_batch(
            model, pending, version, dt.datetime.now(dt.UTC).replace(tzinfo=None)
        )
        added = warehouse.append_recommendations(recommendations)
        return ScoreReport(version=version, scored=added, unscorable=unscorable)
