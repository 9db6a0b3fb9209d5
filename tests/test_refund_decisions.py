"""Learning from the manager's decisions: promoted only when it beats the rules on held-out ones."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from casper.home import CasperHome
from casper.refunds import registry
from casper.refunds.learned import NotEnoughDecisionsError
from casper.refunds.service import train, train_from_decisions
from tests.engine_helpers import engine_for
from tests.refund_fixtures import delivery_times, write_warehouse


@pytest.fixture
def engine(tmp_path):
    home = CasperHome(tmp_path / "home").ensure()
    write_warehouse(home.warehouse, delivery_times(orders_per_location=300))
    return engine_for(home, "duckdb")


def strict_manager(orders: pd.DataFrame) -> pd.DataFrame:
    """A manager with a policy of their own: only long routes that were late get anything back."""
    late = orders.delivery_minutes > orders.groupby("location").delivery_minutes.transform(
        lambda m: m.quantile(0.6)
    )
    far = orders.distance_km > 5
    refund_class = np.where(late & far, "partial", "none")
    refund_usd = np.where(late & far, (0.25 * orders.order_revenue).round(2), 0.0)
    return pd.DataFrame(
        {"order_id": orders.order_id, "refund_class": refund_class, "refund_usd": refund_usd}
    )


@pytest.mark.slow
def test_a_model_that_learns_the_managers_policy_beats_the_rules_and_becomes_champion(engine):
    train(engine, window_days=2)
    decisions = strict_manager(delivery_times(orders_per_location=300))
    report = train_from_decisions(engine, decisions, window_days=2)
    comparison = report.comparison
    assert comparison.test_size == pytest.approx(0.25 * len(decisions), abs=1)
    assert comparison.learned_accuracy > comparison.rule_accuracy
    assert comparison.learned_amount_mae < comparison.rule_amount_mae
    assert report.promoted
    target = engine.registry_target()
    assert registry.champion_version(target) == report.version.version == "2"
    metrics = registry.version_metrics(target, "2")
    assert metrics["learned_accuracy"] == pytest.approx(comparison.learned_accuracy)


@pytest.mark.slow
def test_decisions_that_follow_the_rules_leave_the_rule_model_champion(engine):
    first = train(engine, window_days=2)
    orders = delivery_times(orders_per_location=300)
    model, _ = registry.load_champion(engine.registry_target())
    features = engine.warehouse().order_features(orders.order_id.tolist())
    agreed = model.predict(features.drop(columns=["delivered_ts"]))
    decisions = pd.DataFrame(
        {
            "order_id": features.order_id,
            "refund_class": agreed.refund_class,
            "refund_usd": agreed.refund_usd,
        }
    )
    report = train_from_decisions(engine, decisions, window_days=2)
    assert report.comparison.rule_accuracy == 1.0
    assert not report.promoted
    assert registry.champion_version(engine.registry_target()) == first.version.version


def test_too_few_decisions_is_a_clear_error(engine):
    train(engine, window_days=2)
    decisions = strict_manager(delivery_times()).head(5)
    with pytest.raises(NotEnoughDecisionsError, match="need at least 20 decided orders.*got 5"):
        train_from_decisions(engine, decisions, window_days=2)
