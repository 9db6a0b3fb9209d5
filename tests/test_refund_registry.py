"""Training registers a champion in a local MLflow registry; scoring uses it, once per version."""

from __future__ import annotations

import json

import duckdb
import pandas as pd
import pytest

from casper.home import CasperHome
from casper.refunds import registry
from casper.refunds.service import ChampionScorer, train
from casper.refunds.training import NotEnoughDataError
from tests.engine_helpers import engine_for
from tests.refund_fixtures import delivery_times, write_warehouse


@pytest.fixture
def engine(tmp_path):
    home = CasperHome(tmp_path / "home").ensure()
    write_warehouse(home.warehouse, delivery_times())
    return engine_for(home, "duckdb")


def recommendations(engine) -> pd.DataFrame:
    with duckdb.connect(str(engine.home.warehouse), read_only=True) as connection:
        return connection.execute("SELECT * FROM recommender.refund_recommendations").df()


@pytest.mark.slow
def test_train_registers_versions_and_moves_the_champion(engine):
    first = train(engine, window_days=2)
    assert first.version.version == "1"
    target = engine.registry_target()
    assert registry.champion_version(target) == "1"
    assert (engine.home.mlflow / "mlflow.db").exists()
    assert 0 < first.metrics["refunded_share"] < 0.5
    assert first.metrics["share_none"] + first.metrics["share_partial"] + first.metrics[
        "share_full"
    ] == pytest.approx(1)
    recorded = registry.version_metrics(target, "1")
    assert recorded["p75_sanfrancisco"] == pytest.approx(first.metrics["p75_sanfrancisco"])

    second = train(engine, window_days=2)
    assert second.version.version == "2" and registry.champion_version(target) == "2"
    model, version = registry.load_champion(target)
    assert version == "2"
    out = model.predict(
        pd.DataFrame(
            {
                "order_id": ["x"],
                "location": ["chicago"],
                "delivery_minutes": [500.0],
                "order_total": [12.5],
                "distance_km": [float("nan")],
                "total_items": [2.0],
                "created_hour": [13.0],
            }
        )
    )
    assert out.refund_class.tolist() == ["full"] and out.refund_usd.tolist() == [12.5]


@pytest.mark.slow
def test_scoring_scores_every_delivered_order_once_per_model_version(engine):
    scorer = ChampionScorer(engine)
    with pytest.raises(registry.NoChampionError, match="casper refunds train"):
        scorer.score_pending()
    train(engine, window_days=2)
    report = scorer.score_pending()
    delivered = delivery_times()
    assert (report.version, report.scored, report.unscorable) == ("1", len(delivered), 0)
    assert scorer.score_pending().scored == 0

    scored = recommendations(engine)
    assert sorted(scored.order_id) == sorted(delivered.order_id)
    response = json.loads(scored.agent_response.iloc[0])
    assert set(response) == {"refund_usd", "refund_class", "reason"}
    assert response["refund_class"] == scored.refund_class.iloc[0]
    assert (scored.refund_usd >= 0).all()

    train(engine, window_days=2)
    assert scorer.score_pending().scored == len(
        delivered
    )  # the new champion scores everything once
    assert recommendations(engine).groupby("order_id").size().eq(2).all()


@pytest.mark.slow
def test_corrupt_rows_are_not_scored_and_not_lost(engine):
    frame = delivery_times()
    frame.loc[0, "order_revenue"] = None
    frame.loc[1, "delivery_minutes"] = -4.0
    write_warehouse(engine.home.warehouse, frame)
    train(engine, window_days=2)
    report = ChampionScorer(engine).score_pending()
    assert report.unscorable == 2 and report.scored == len(frame) - 2
    assert set(frame.order_id[:2]).isdisjoint(recommendations(engine).order_id)


def test_an_empty_warehouse_cannot_train(tmp_path):
    home = CasperHome(tmp_path).ensure()
    write_warehouse(home.warehouse, delivery_times().head(0))
    with pytest.raises(NotEnoughDataError, match="need at least 20 delivered orders .*got 0"):
        train(engine_for(home, "duckdb"))
