"""The reference's synced-table columns, end to end on the duckdb engine: orders generated from the
reference's own config files, refined, scored and synced into both app store backends, where
recommender.pg_recommendations carries order_id, ts, order_ts and agent_response as the reference's
synced table does. order_ts is checked against the order_created events of the landed files, read
here from the files themselves.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from casper.appstore import open_store
from casper.generator.runs import plan_history, run_generate
from casper.home import CasperHome
from casper.pipeline import run_pipeline
from casper.refunds.service import ChampionScorer, train
from casper.reverse_etl import sync_to_store
from tests.appstore_fixtures import BACKENDS, postgres_dsn
from tests.cli_helpers import NOW
from tests.engine_helpers import engine_for
from tests.test_config import REFERENCE_CHICAGO, REFERENCE_SF

pytestmark = pytest.mark.slow

REFERENCE_QUERY = (
    "SELECT order_id, ts, order_ts, agent_response FROM recommender.pg_recommendations"
)


def order_created_ts(landing: Path) -> dict[str, dt.datetime]:
    """Each order's order_created time, from the raw landed lines (the earliest, were it landed
    twice)."""
    created: dict[str, dt.datetime] = {}
    for path in sorted(landing.glob("*.ndjson")):
        for line in path.read_text().splitlines():
            event = json.loads(line) if line.strip() else None
            if event and event["event_type"] == "order_created":
                ts = dt.datetime.fromisoformat(event["ts"])
                created[event["order_id"]] = min(ts, created.get(event["order_id"], ts))
    return created


def _warehouse_rows(home: CasperHome, sql: str) -> list[tuple]:
    with duckdb.connect(str(home.warehouse), read_only=True) as connection:
        return connection.execute(sql).fetchall()


@pytest.fixture(scope="module")
def scored(tmp_path_factory) -> CasperHome:
    """A home generated from the reference's files, refined and scored by the duckdb engine."""
    home = CasperHome(tmp_path_factory.mktemp("reference-columns") / "home").ensure()
    engine = engine_for(home, "duckdb")
    plan = plan_history(home, config_files=[REFERENCE_SF, REFERENCE_CHICAGO], now=NOW, days=1)
    run_generate(engine, plan)
    run_pipeline(engine)
    train(engine, window_days=1.0)
    assert ChampionScorer(engine).score_pending().scored > 40
    return home


def _reference_rows(store) -> dict[str, tuple]:
    connection = store.backend.connect()
    try:
        rows = connection.execute(REFERENCE_QUERY).fetchall()
    finally:
        connection.close()
    as_time = store.backend.timestamp
    return {
        order: (as_time(ts), as_time(order_ts), response) for order, ts, order_ts, response in rows
    }


def test_scoring_writes_when_each_order_was_created(scored):
    created = order_created_ts(scored.landing)
    rows = _warehouse_rows(
        scored, "SELECT order_id, order_ts FROM recommender.refund_recommendations"
    )
    assert rows and all(order_ts == created[order] for order, order_ts in rows)


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_reference_columns_read_from_pg_recommendations(scored, tmp_path, backend):
    engine = engine_for(scored, "duckdb")
    dsn = postgres_dsn() if backend == "postgresql" else None
    with open_store(CasperHome(tmp_path), dsn) as store:
        assert sync_to_store(engine, store).upserted > 40
        reference = _reference_rows(store)
    created = order_created_ts(scored.landing)
    warehouse = {
        order: (ts, response)
        for order, ts, response in _warehouse_rows(
            scored, "SELECT order_id, ts, agent_response FROM recommender.refund_recommendations"
        )
    }
    assert set(reference) == set(warehouse)
    for order, (ts, order_ts, response) in reference.items():
        assert order_ts == created[order]
        assert (ts, response) == warehouse[order]
        assert json.loads(response)["refund_class"] in ("none", "partial", "full")


def test_a_warehouse_from_before_order_ts_syncs_it_and_scores_with_it(scored, tmp_path):
    """A refund_recommendations table made before the column: the sync adds it and takes its
    old rows' order_ts from the orders; the next scoring writes it."""
    home = CasperHome(tmp_path / "old").ensure()
    shutil.copy2(scored.warehouse, home.warehouse)
    shutil.copytree(scored.root / "mlflow", home.root / "mlflow")
    shutil.copytree(scored.landing, home.landing, dirs_exist_ok=True)
    with duckdb.connect(str(home.warehouse)) as connection:
        connection.execute("ALTER TABLE recommender.refund_recommendations DROP COLUMN order_ts")
        old_rows = connection.execute(
            "SELECT count(*) FROM recommender.refund_recommendations"
        ).fetchone()[0]
    engine = engine_for(home, "duckdb")
    created = order_created_ts(home.landing)
    with open_store(home) as store:
        assert sync_to_store(engine, store).upserted == old_rows
        assert all(row[1] == created[order] for order, row in _reference_rows(store).items())
    columns = [
        name
        for (name,) in _warehouse_rows(
            home,
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_name = 'refund_recommendations' ORDER BY ordinal_position",
        )
    ]
    assert columns[-1] == "order_ts"  # added, where a new table has it
    # a rescoring (a new model version) writes order_ts itself
    train(engine, window_days=1.0)
    assert ChampionScorer(engine).score_pending().scored == old_rows
    rows = _warehouse_rows(
        home, "SELECT order_id, order_ts FROM recommender.refund_recommendations "
        "WHERE model_version = '2'",
    )  # fmt: skip
    assert len(rows) == old_rows and all(ts == created[order] for order, ts in rows)


#: another process opening the warehouse for writing (fails while any process holds it)
OPEN_FOR_WRITING = "import duckdb, sys; duckdb.connect(sys.argv[1]).close()"
STORED_SYNC = (
    "SELECT order_id, ts, order_ts, agent_response, model_version, location, suggested_class, "
    "suggested_usd, suggested_reason FROM recommender.app_recommendations ORDER BY order_id",
    "SELECT * FROM recommender.order_context ORDER BY order_id",
)


def _stored(store) -> list[list[tuple]]:
    connection = store.backend.connect()
    try:
        return [connection.execute(sql).fetchall() for sql in STORED_SYNC]
    finally:
        connection.close()


def test_a_sync_in_small_batches_stores_what_one_batch_does_and_resumes_after_a_stop(
    scored, tmp_path, monkeypatch
):
    """The warehouse hands the sync a batch at a time (each batch its own transaction): batches of
    7 store exactly what one batch stores; while a batch is written the warehouse is free for
    another process; a sync stopped at its third batch has written the two before it whole, and
    the next sync completes it."""
    import casper.reverse_etl

    engine = engine_for(scored, "duckdb")
    with open_store(CasperHome(tmp_path / "whole")) as store:
        whole = sync_to_store(engine, store)
        expected = _stored(store)
    assert whole.upserted > 40 and len(expected[1]) == whole.upserted

    monkeypatch.setattr(casper.reverse_etl, "BATCH_ORDERS", 7)
    with open_store(CasperHome(tmp_path / "batched")) as store:
        upsert, calls = store.upsert_synced, []

        def stopping_at_the_third_batch(rows, context_rows):
            calls.append((len(rows), len(context_rows)))
            if len(calls) == 1:
                writer = subprocess.run(
                    [sys.executable, "-c", OPEN_FOR_WRITING, str(scored.warehouse)],
                    capture_output=True,
                    text=True,
                )
                assert writer.returncode == 0, writer.stderr  # not held by the sync
            if len(calls) == 3:
                raise OSError("the store went away")
            return upsert(rows, context_rows)

        monkeypatch.setattr(store, "upsert_synced", stopping_at_the_third_batch)
        with pytest.raises(OSError):
            sync_to_store(engine, store)
        assert calls == [(7, 7)] * 3
        assert [len(table) for table in _stored(store)] == [14, 14]  # two whole batches
        monkeypatch.setattr(store, "upsert_synced", upsert)
        resumed = sync_to_store(engine, store)
        assert _stored(store) == expected
    assert resumed.upserted == whole.upserted - 14
